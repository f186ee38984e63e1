//! TLS echo client (asyncio's `create_connection(..., ssl=ctx,
//! server_hostname=...)`): sends a message over TLS and prints the echo.
//!
//! ```text
//! cargo run -p tulip --example tls_echo_client [ADDR --cafile CA.pem [--server-hostname NAME]]
//! ```
//!
//! Given `ADDR` and `--cafile` (for instance the certificate path
//! `tls_echo_server` prints), it talks to that server; the name checked
//! against the certificate defaults to `localhost`. With no arguments it
//! is self-contained: it starts a TLS echo server of its own on a free
//! port, with a certificate made by rcgen, talks to it and exits.

use std::cell::RefCell;
use std::rc::Rc;

use loop_core::{Loop, LoopFuture};
use loop_transports::rustls::RootCertStore;
use loop_transports::rustls::pki_types::pem::PemObject;
use loop_transports::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use loop_transports::{
    BaseProtocol, ConnectOptions, Error, NetExt, Protocol, ServerOptions, TlsAccept, TlsConnect,
    TransportRef,
};

#[derive(Default)]
struct Echo(Option<TransportRef>);
impl BaseProtocol for Echo {
    fn connection_made(&mut self, t: TransportRef) {
        self.0 = Some(t);
    }
}
impl Protocol for Echo {
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.0 {
            let _ = t.write(data);
        }
    }
}

struct Client {
    got: Vec<u8>,
    want: usize,
    done: LoopFuture<Vec<u8>>,
    transport: Option<TransportRef>,
}
impl BaseProtocol for Client {
    fn connection_made(&mut self, t: TransportRef) {
        println!(
            "TLS established: {:?}, {:?}",
            t.get_extra_info("ssl_protocol"),
            t.get_extra_info("cipher")
        );
        self.transport = Some(t);
    }
    fn connection_lost(&mut self, error: Option<Error>) {
        println!("Connection closed ({error:?})");
    }
}
impl Protocol for Client {
    fn data_received(&mut self, data: &[u8]) {
        self.got.extend_from_slice(data);
        if self.got.len() >= self.want {
            let _ = self.done.set_result(std::mem::take(&mut self.got));
            if let Some(t) = &self.transport {
                t.close();
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut addr, mut cafile, mut name) = (None, None, "localhost".to_owned());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cafile" => cafile = Some(args.next().ok_or("--cafile needs a path")?),
            "--server-hostname" => name = args.next().ok_or("--server-hostname needs a name")?,
            a => addr = Some(a.parse::<std::net::SocketAddr>().map_err(|e| format!("{a:?}: {e}"))?),
        }
    }
    let lp = Loop::new()?;
    let l = lp.clone();
    lp.run_until_complete(async move {
        let mut roots = RootCertStore::empty();
        let mut server = None;
        let target = match (addr, cafile) {
            (Some(a), Some(ca)) => {
                for c in CertificateDer::pem_file_iter(&ca)
                    .map_err(|e| Error::InvalidArgument(e.to_string()))?
                {
                    roots
                        .add(c.map_err(|e| Error::InvalidArgument(e.to_string()))?)
                        .map_err(Error::Tls)?;
                }
                a
            }
            (None, None) => {
                // Self-contained: our own server with a fresh certificate.
                let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
                    .map_err(|e| Error::TlsConfig(e.to_string()))?;
                roots.add(made.cert.der().clone()).map_err(Error::Tls)?;
                let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
                    .map_err(|e| Error::TlsConfig(e.to_owned()))?;
                let tls = TlsAccept::with_single_cert(vec![made.cert.der().clone()], key)?;
                let opts = ServerOptions::default().with_tls(Some(tls));
                let s = l.create_server(Echo::default, "127.0.0.1", 0, opts).await?;
                let a = s.addresses()[0].clone();
                server = Some(s);
                a.to_string().parse().map_err(|_| Error::InvalidArgument("address".into()))?
            }
            _ => {
                return Err(Error::InvalidArgument("give ADDR and --cafile together".into()).into());
            }
        };
        let message = b"Hello over TLS!".to_vec();
        let done = l.create_future::<Vec<u8>>();
        let (d, want) = (done.clone(), message.len());
        let tls = TlsConnect::with_roots(roots)?.server_hostname(name);
        let opts = ConnectOptions::default().with_tls(Some(tls));
        let (t, _client): (TransportRef, Rc<RefCell<Client>>) = l
            .create_connection(
                move || Client { got: Vec::new(), want, done: d, transport: None },
                &target.ip().to_string(),
                target.port(),
                opts,
            )
            .await?;
        println!("Send: {}", String::from_utf8_lossy(&message));
        t.write(&message)?;
        let echo = loop_core::timeout(std::time::Duration::from_secs(10), done).await??;
        println!("Received: {}", String::from_utf8_lossy(&echo));
        assert_eq!(echo, message);
        if let Some(s) = server {
            s.close();
        }
        Ok::<_, tulip::Error>(())
    })??;
    lp.close()?;
    Ok(())
}
