//! Streams over TLS against Python's `ssl` + asyncio streams: a Python
//! `open_connection(ssl=)` client against a tulip `start_server` with TLS,
//! and a tulip client upgrading with `StreamWriter::start_tls` against a
//! Python server upgrading with its own `StreamWriter.start_tls` (3.11).

mod util;

use loop_streams::{
    StreamReader, StreamServerOptions, StreamWriter, open_connection, start_server,
};
use loop_transports::ExtraInfo;
use util::tls::{Pki, Ver};
use util::{python, read_line, run, wait_child, wait_until, within};

async fn shout(r: StreamReader, w: StreamWriter) -> loop_streams::Result<()> {
    loop {
        let line = r.readline().await?;
        if line.is_empty() {
            w.close();
            return Ok(());
        }
        w.write(&line.to_ascii_uppercase())?;
        w.drain().await?;
    }
}

#[test]
fn python_ssl_client_against_a_tulip_tls_stream_server() {
    run(|lp| async move {
        let pki = Pki::localhost();
        let opts = StreamServerOptions::default().with_tls(pki.server(Ver::Both));
        let server = start_server(shout, "127.0.0.1", 0, opts).await.unwrap();
        let port = server.addresses()[0].port().unwrap().to_string();
        let ca = pki.ca_pem.to_str().unwrap().to_owned();
        let child = python("tls_stream_peer.py", &["client", &port, &ca, "50"]);
        let (out, status) = wait_child(&lp, child).await;
        assert!(status.success(), "python client failed: {out}");
        assert_eq!(out.trim(), "ok 50 TLSv1.3");
        wait_until("server idle", || server.active_connections() == 0).await;
        server.close();
        within("server closed", server.wait_closed()).await;
    });
}

#[test]
fn tulip_start_tls_against_python_streamwriter_start_tls() {
    run(|lp| async move {
        let pki = Pki::localhost();
        let (cert, key) = (pki.cert_pem.to_str().unwrap(), pki.key_pem.to_str().unwrap());
        let mut child = python("tls_stream_peer.py", &["starttls-server", cert, key]);
        let (port, stdout) = read_line(&lp, child.stdout.take().unwrap()).await;
        child.stdout = Some(stdout);
        let port: u16 = port.parse().unwrap();
        let (r, w) = open_connection("127.0.0.1", port, Default::default()).await.unwrap();
        assert_eq!(within("greeting", r.readline()).await.unwrap(), b"220 ready\n");
        w.write(b"STARTTLS\n").unwrap();
        assert_eq!(within("go", r.readline()).await.unwrap(), b"220 go\n");
        let tls = pki.client(Ver::Both).server_hostname("localhost");
        within("start_tls", w.start_tls(tls)).await.unwrap();
        assert_eq!(w.get_extra_info("ssl_protocol"), Some(ExtraInfo::Text("TLSv1.3".into())));
        for word in ["hello", "over", "starttls"] {
            w.write(format!("{word}\n").as_bytes()).unwrap();
            let line = within("echo", r.readline()).await.unwrap();
            assert_eq!(line, format!("{}\n", word.to_uppercase()).as_bytes());
        }
        w.close();
        within("closed", w.wait_closed()).await.unwrap();
        let (out, status) = wait_child(&lp, child).await;
        assert!(status.success(), "python server failed: {out}");
        assert_eq!(out.trim(), "TLSv1.3");
    });
}
