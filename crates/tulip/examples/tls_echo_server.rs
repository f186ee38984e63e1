//! TLS echo server (asyncio's `create_server(..., ssl=ctx)`): every byte
//! received is decrypted, written back and encrypted again.
//!
//! ```text
//! cargo run -p tulip --example tls_echo_server [ADDR] [--cert CERT.pem --key KEY.pem]
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:8443`. Without a certificate it makes a
//! self-signed one for `localhost` and 127.0.0.1 with rcgen and prints the
//! path it wrote it to (give it to a client as its CA file, for instance
//! `openssl s_client -connect 127.0.0.1:8443 -CAfile PATH`). Prints
//! `Serving on <addr>` once bound; SIGINT or SIGTERM close the server and
//! end the program cleanly.

use std::net::SocketAddr;

use loop_core::Loop;
use loop_transports::rustls::pki_types::pem::PemObject;
use loop_transports::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use loop_transports::{
    BaseProtocol, Error, NetExt, Protocol, ServerOptions, TlsAccept, TransportRef,
};
use tulip::prelude::{Signal, SignalExt};

#[derive(Default)]
struct Echo(Option<TransportRef>);

impl BaseProtocol for Echo {
    fn connection_made(&mut self, t: TransportRef) {
        let version = t.get_extra_info("ssl_protocol");
        println!("TLS connection from {:?} ({version:?})", t.peername());
        self.0 = Some(t);
    }

    fn connection_lost(&mut self, error: Option<Error>) {
        if let Some(e) = error {
            println!("Connection lost: {e}");
        }
    }
}

impl Protocol for Echo {
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.0 {
            let _ = t.write(data);
        }
    }
}

/// The certificate chain and key: from PEM files, or made now.
fn credentials(
    cert: Option<String>,
    key: Option<String>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Box<dyn std::error::Error>> {
    match (cert, key) {
        (Some(c), Some(k)) => {
            let chain = CertificateDer::pem_file_iter(&c)?.collect::<Result<Vec<_>, _>>()?;
            Ok((chain, PrivateKeyDer::from_pem_file(&k)?))
        }
        (None, None) => {
            let made = rcgen::generate_simple_self_signed(vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
            ])?;
            let path =
                std::env::temp_dir().join(format!("tulip-tls-echo-{}.pem", std::process::id()));
            std::fs::write(&path, made.cert.pem())?;
            println!("Self-signed certificate written to {}", path.display());
            let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())?;
            Ok((vec![made.cert.der().clone()], key))
        }
        _ => Err("--cert and --key go together".into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr: SocketAddr = "127.0.0.1:8443".parse()?;
    let (mut cert, mut key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cert" => cert = Some(args.next().ok_or("--cert needs a path")?),
            "--key" => key = Some(args.next().ok_or("--key needs a path")?),
            a => addr = a.parse().map_err(|e| format!("bad address {a:?}: {e}"))?,
        }
    }
    let (chain, key) = credentials(cert, key)?;
    let tls = TlsAccept::with_single_cert(chain, key)?;
    let lp = Loop::new()?;
    let l = lp.clone();
    lp.run_until_complete(async move {
        let done = l.create_future::<()>();
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let d = done.clone();
            l.add_signal_handler(sig, move || {
                println!("got {sig}: closing the server");
                let _ = d.set_result(());
            })
            .map_err(loop_core::Error::from)?;
        }
        let opts = ServerOptions::default().with_tls(Some(tls));
        let server = l
            .create_server(Echo::default, addr.ip().to_string().as_str(), addr.port(), opts)
            .await?;
        for a in server.addresses() {
            println!("Serving on {a}");
        }
        done.await?;
        server.close();
        Ok::<_, tulip::Error>(())
    })??;
    lp.close()?;
    Ok(())
}
