//! TLS benchmarks: tulip's TLS echo server (a protocol under
//! `ServerOptions::tls`) against tokio's current-thread runtime with
//! `tokio-rustls`, both on the same rustls version, the same `ring`
//! provider and the same `ServerConfig` (TLS 1.3 only, an ECDSA P-256
//! certificate, no session tickets). Each server runs single-threaded in
//! its own process pinned to CPU 0; the load generator (this process, on
//! tokio + tokio-rustls) runs on CPU 1. Figures: messages (or handshakes)
//! per second and the **server's** CPU time per message (or handshake),
//! from `/proc/<pid>/stat`; each implementation keeps its best of
//! interleaved rounds — the method of `tcp.rs`.
//!
//! * **echo**: 10 connections, each writing a message and reading its echo
//!   in a loop (1 KiB and 64 KiB messages).
//! * **handshakes**: 10 clients, each opening a new connection per request:
//!   a full TLS 1.3 handshake (client resumption off), a 16-byte request
//!   echoed, close_notify, close. The load generator does not verify the
//!   certificate, so that it is not the bottleneck; the server signs with
//!   its P-256 key on every handshake.
//!
//! The binary re-executes itself with `TULIP_TLS_SERVER=<impl>` (and
//! `TULIP_TLS_CERT_DIR`) to act as a server. `TULIP_BENCH_SECS` sets the
//! measured time per case (default 1.5 s), `TULIP_BENCH_ROUNDS` the rounds
//! (default 3), `TULIP_BENCH_ONLY=echo` or `handshake` one kind of case.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loop_transports::rustls::{self, ClientConfig};
use tulip_bench::{Better, ServerProc, Table, print_header};

const ECHO_SIZES: [usize; 2] = [1024, 64 * 1024];
const CONNS: usize = 10;
const REQUEST: usize = 16;
const WARMUP: Duration = Duration::from_millis(300);
const ROUNDS: usize = 3;

/// The implementations, in table order.
const IMPLS: [&str; 2] = ["tulip", "tokio-rustls"];

fn main() {
    if let Ok(which) = std::env::var("TULIP_TLS_SERVER") {
        tulip_bench::pin_to_cpu(0);
        let dir = PathBuf::from(std::env::var("TULIP_TLS_CERT_DIR").expect("TULIP_TLS_CERT_DIR"));
        servers::run(&which, certs::server_config(&dir));
        return;
    }
    tulip_bench::pin_to_cpu(1);
    let env = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<f64>().ok());
    let measure = Duration::from_secs_f64(env("TULIP_BENCH_SECS").unwrap_or(1.5));
    let rounds = env("TULIP_BENCH_ROUNDS").map_or(ROUNDS, |r| r as usize).max(1);
    let only = std::env::var("TULIP_BENCH_ONLY").unwrap_or_default();
    if !["", "echo", "handshake"].contains(&only.as_str()) {
        panic!("TULIP_BENCH_ONLY must be `echo` or `handshake`, not {only:?}");
    }
    let dir = certs::write_temp();
    let client = certs::client_config();
    print_header();
    if only != "handshake" {
        for size in ECHO_SIZES {
            let name = format!("tls echo {}KiB x{CONNS}", size / 1024);
            report(&name, "msg", rounds, |which| echo_case(which, &dir, &client, size, measure));
        }
    }
    if only != "echo" {
        let name = format!("tls handshakes x{CONNS} (new connection per request)");
        report(&name, "handshake", rounds, |which| handshake_case(which, &dir, &client, measure));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

struct Figures {
    rate: f64,
    cpu_us: f64,
}

/// Runs `case` for every implementation in interleaved rounds and prints
/// the best figures of each.
fn report(name: &str, unit: &str, rounds: usize, mut case: impl FnMut(&str) -> Figures) {
    let mut best: Vec<Figures> =
        IMPLS.iter().map(|_| Figures { rate: 0.0, cpu_us: f64::INFINITY }).collect();
    for _ in 0..rounds {
        for (i, which) in IMPLS.iter().enumerate() {
            let r = case(which);
            best[i].rate = best[i].rate.max(r.rate);
            best[i].cpu_us = best[i].cpu_us.min(r.cpu_us);
        }
    }
    let mut rate = Table::new(format!("{name} {unit}s/s"), format!("{unit}/s"), Better::Higher);
    let mut cpu = Table::new(format!("{name} server CPU/{unit}"), "us", Better::Lower);
    for (which, r) in IMPLS.iter().zip(&best) {
        rate.row(*which, r.rate);
        cpu.row(*which, r.cpu_us);
    }
    rate.print();
    cpu.print();
}

/// Runs `clients` (each counting what it completes) on a tokio
/// current-thread runtime; the server's CPU time is read around the
/// measured window.
fn drive<F, Fut>(server: &ServerProc, measure: Duration, client: F) -> Figures
where
    F: Fn(Rc<Cell<u64>>, Rc<Cell<bool>>) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let local = tokio::task::LocalSet::new();
    let count = Rc::new(Cell::new(0u64));
    let stop = Rc::new(Cell::new(false));
    local.block_on(&rt, async {
        let tasks: Vec<_> = (0..CONNS)
            .map(|_| tokio::task::spawn_local(client(count.clone(), stop.clone())))
            .collect();
        tokio::time::sleep(WARMUP).await;
        let (n0, c0, t0) = (count.get(), server.cpu(), Instant::now());
        tokio::time::sleep(measure).await;
        let (n1, c1, t1) = (count.get(), server.cpu(), Instant::now());
        stop.set(true);
        for t in tasks {
            t.await.expect("a client failed");
        }
        let n = (n1 - n0) as f64;
        Figures { rate: n / (t1 - t0).as_secs_f64(), cpu_us: (c1 - c0).as_secs_f64() * 1e6 / n }
    })
}

async fn connect(
    port: u16,
    client: &Arc<ClientConfig>,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.set_nodelay(true).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(client.clone()).connect(name, s).await.unwrap()
}

/// 10 connections echoing `size`-byte messages.
fn echo_case(
    which: &str,
    dir: &Path,
    client: &Arc<ClientConfig>,
    size: usize,
    measure: Duration,
) -> Figures {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = ServerProc::spawn(&[
        ("TULIP_TLS_SERVER", which.as_ref()),
        ("TULIP_TLS_CERT_DIR", dir.as_os_str()),
    ]);
    let port = server.port;
    drive(&server, measure, |count, stop| {
        let client = client.clone();
        async move {
            let mut s = connect(port, &client).await;
            let msg = vec![0x5au8; size];
            let mut buf = vec![0u8; size];
            while !stop.get() {
                s.write_all(&msg).await.unwrap();
                s.flush().await.unwrap();
                s.read_exact(&mut buf).await.unwrap();
                count.set(count.get() + 1);
            }
            s.shutdown().await.unwrap();
        }
    })
}

/// 10 clients, each making a new TLS connection per 16-byte request.
fn handshake_case(
    which: &str,
    dir: &Path,
    client: &Arc<ClientConfig>,
    measure: Duration,
) -> Figures {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = ServerProc::spawn(&[
        ("TULIP_TLS_SERVER", which.as_ref()),
        ("TULIP_TLS_CERT_DIR", dir.as_os_str()),
    ]);
    let port = server.port;
    drive(&server, measure, |count, stop| {
        let client = client.clone();
        async move {
            let msg = [0x5au8; REQUEST];
            let mut buf = [0u8; REQUEST];
            while !stop.get() {
                let mut s = connect(port, &client).await;
                s.write_all(&msg).await.unwrap();
                s.flush().await.unwrap();
                s.read_exact(&mut buf).await.unwrap();
                // close_notify, then close (the server answers and closes).
                s.shutdown().await.unwrap();
                count.set(count.get() + 1);
            }
        }
    })
}

mod certs {
    //! One self-signed ECDSA P-256 certificate for `localhost`, written to
    //! a temporary directory for the server processes; the configurations
    //! of both sides.

    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use loop_transports::rustls::client::danger::{
        HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
    };
    use loop_transports::rustls::pki_types::{
        CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime,
    };
    use loop_transports::rustls::{
        self, ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme,
    };
    use loop_transports::tls::crypto_provider;

    pub(super) fn write_temp() -> PathBuf {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = std::env::temp_dir().join(format!("tulip-bench-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cert.der"), cert.der()).unwrap();
        std::fs::write(dir.join("key.der"), key.serialize_der()).unwrap();
        dir
    }

    /// The one server configuration both implementations serve with:
    /// TLS 1.3, `ring`, no session tickets (the clients do not resume).
    pub(super) fn server_config(dir: &Path) -> Arc<ServerConfig> {
        let cert = CertificateDer::from(std::fs::read(dir.join("cert.der")).unwrap());
        let key = PrivatePkcs8KeyDer::from(std::fs::read(dir.join("key.der")).unwrap());
        let mut c = ServerConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], PrivateKeyDer::Pkcs8(key))
            .unwrap();
        c.send_tls13_tickets = 0;
        Arc::new(c)
    }

    /// The load generator's configuration: TLS 1.3, `ring`, no resumption
    /// (every connection makes a full handshake), no certificate checks.
    pub(super) fn client_config() -> Arc<ClientConfig> {
        let provider = crypto_provider();
        let schemes = provider.signature_verification_algorithms.supported_schemes();
        let mut c = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(TrustAnything(schemes)))
            .with_no_client_auth();
        c.resumption = rustls::client::Resumption::disabled();
        Arc::new(c)
    }

    /// Accepts any certificate: the load generator must not spend its CPU
    /// verifying what the benchmark is not about.
    #[derive(Debug)]
    struct TrustAnything(Vec<SignatureScheme>);

    impl ServerCertVerifier for TrustAnything {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }

        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.clone()
        }
    }
}

mod servers {
    //! The TLS echo servers; each prints its port and serves until killed.

    use std::sync::Arc;

    use loop_transports::rustls::ServerConfig;

    pub(super) fn run(which: &str, config: Arc<ServerConfig>) {
        match which {
            "tulip" => tulip_server(config),
            "tokio-rustls" => tokio_server(config),
            other => panic!("unknown server {other}"),
        }
    }

    fn announce(port: u16) {
        println!("{port}");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
    }

    fn tulip_server(config: Arc<ServerConfig>) {
        use loop_transports::{
            BaseProtocol, NetExt, Protocol, ServerOptions, TlsAccept, TransportRef,
        };

        struct Echo(Option<TransportRef>);
        impl BaseProtocol for Echo {
            fn connection_made(&mut self, t: TransportRef) {
                self.0 = Some(t);
            }
        }
        impl Protocol for Echo {
            fn data_received(&mut self, data: &[u8]) {
                let _ = self.0.as_ref().unwrap().write(data);
            }
        }
        let lp = loop_core::Loop::new().unwrap();
        let l = lp.clone();
        lp.run_until_complete(async move {
            let opts = ServerOptions::default().with_tls(Some(TlsAccept::new(config)));
            let server = l.create_server(|| Echo(None), "127.0.0.1", 0, opts).await.unwrap();
            announce(server.addresses()[0].port().unwrap());
            server.serve_forever().await.unwrap();
        })
        .unwrap();
    }

    fn tokio_server(config: Arc<ServerConfig>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            announce(l.local_addr().unwrap().port());
            loop {
                let (s, _) = l.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                let acceptor = acceptor.clone();
                tokio::task::spawn_local(async move {
                    let Ok(mut s) = acceptor.accept(s).await else { return };
                    let mut buf = vec![0u8; 256 * 1024];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).await.is_err() || s.flush().await.is_err()
                                {
                                    return;
                                }
                            }
                        }
                    }
                    // Answer close_notify with ours, as tulip does.
                    let _ = s.shutdown().await;
                });
            }
        });
    }
}
