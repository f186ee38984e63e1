//! STARTTLS with streams (asyncio 3.11's `StreamWriter.start_tls`): a plain
//! SMTP-like greeting, then both ends upgrade the live connection with
//! `StreamWriter::start_tls` and keep using the same reader and writer.
//!
//! ```text
//! cargo run -p tulip --example starttls_streams
//! ```
//!
//! Self-contained: the server and the client run on one loop; the server's
//! certificate is made by rcgen at start.

use loop_streams::StreamServerOptions;
use loop_transports::rustls::RootCertStore;
use loop_transports::rustls::pki_types::PrivateKeyDer;
use tulip::prelude::*;

/// The server: greets, upgrades on STARTTLS, then answers each line.
async fn session(r: StreamReader, w: StreamWriter, accept: TlsAccept) -> tulip::Result<()> {
    w.write(b"220 mail.example ready\r\n")?;
    if r.readline().await? != b"STARTTLS\r\n" {
        w.write(b"530 STARTTLS first\r\n")?;
        w.close();
        return Ok(());
    }
    w.write(b"220 go ahead\r\n")?;
    w.start_tls(accept).await?;
    loop {
        let line = r.readline().await?;
        if line.is_empty() {
            break;
        }
        w.write(b"250 ")?;
        w.write(&line)?;
        w.drain().await?;
    }
    w.close();
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let made = rcgen::generate_simple_self_signed(vec!["mail.example".to_owned()])?;
    let mut roots = RootCertStore::empty();
    roots.add(made.cert.der().clone())?;
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())?;
    let accept = TlsAccept::with_single_cert(vec![made.cert.der().clone()], key)?;
    let connect = TlsConnect::with_roots(roots)?.server_hostname("mail.example");

    let lp = Loop::new()?;
    lp.run_until_complete(async move {
        let server = start_server(
            move |r, w| session(r, w, accept.clone()),
            "127.0.0.1",
            0,
            StreamServerOptions::default(),
        )
        .await?;
        let port = server.addresses()[0].port().unwrap_or(0);

        let (r, w) = open_connection("127.0.0.1", port, Default::default()).await?;
        print!("S: {}", String::from_utf8_lossy(&r.readline().await?));
        println!("C: STARTTLS");
        w.write(b"STARTTLS\r\n")?;
        print!("S: {}", String::from_utf8_lossy(&r.readline().await?));
        w.start_tls(connect).await?;
        println!("-- upgraded: {:?}", w.get_extra_info("ssl_protocol"));
        w.write(b"HELO over TLS\r\n")?;
        print!("S: {}", String::from_utf8_lossy(&r.readline().await?));
        w.close();
        w.wait_closed().await?;
        server.close();
        Ok::<_, tulip::Error>(())
    })??;
    lp.close()?;
    Ok(())
}
