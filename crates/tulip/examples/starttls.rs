//! STARTTLS (as in SMTP, IMAP or PostgreSQL): a plain greeting, then both
//! sides upgrade the live connection with `start_tls` and talk over TLS.
//!
//! ```text
//! cargo run -p tulip --example starttls
//! ```
//!
//! Self-contained: the server and the client run on one loop; the server's
//! certificate is made by rcgen at start. The old (plain) transport is
//! unusable after the upgrade: its writes are refused.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use loop_core::{Loop, LoopFuture};
use loop_transports::rustls::RootCertStore;
use loop_transports::rustls::pki_types::PrivateKeyDer;
use loop_transports::{
    BaseProtocol, ConnectOptions, Error, NetExt, Protocol, ServerOptions, StreamProtocolRef,
    TlsAccept, TlsConnect, TransportRef,
};

/// Collects lines and hands each to a waiting future.
struct Lines {
    buf: Vec<u8>,
    waiting: Option<LoopFuture<String>>,
    queued: Vec<String>,
}

impl Lines {
    fn new() -> Rc<RefCell<Lines>> {
        Rc::new(RefCell::new(Lines { buf: Vec::new(), waiting: None, queued: Vec::new() }))
    }
}

impl BaseProtocol for Lines {}
impl Protocol for Lines {
    fn data_received(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        while let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line).trim_end().to_owned();
            match self.waiting.take() {
                Some(f) => {
                    let _ = f.set_result(line);
                }
                None => self.queued.push(line),
            }
        }
    }
}

/// The next line received by `p`.
async fn next_line(lp: &Loop, p: &Rc<RefCell<Lines>>) -> Result<String, tulip::Error> {
    if !p.borrow().queued.is_empty() {
        return Ok(p.borrow_mut().queued.remove(0));
    }
    let f = lp.create_future::<String>();
    p.borrow_mut().waiting = Some(f.clone());
    Ok(loop_core::timeout(Duration::from_secs(10), f).await??)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let made = rcgen::generate_simple_self_signed(vec!["mail.example".to_owned()])?;
    let mut roots = RootCertStore::empty();
    roots.add(made.cert.der().clone())?;
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())?;
    let accept = TlsAccept::with_single_cert(vec![made.cert.der().clone()], key)?;
    let connect = TlsConnect::with_roots(roots)?.server_hostname("mail.example");

    let lp = Loop::new()?;
    let l = lp.clone();
    lp.run_until_complete(async move {
        // The server: greets in plain text, upgrades on STARTTLS.
        let sl = l.clone();
        let server = l
            .create_server(
                move || {
                    let (l2, accept) = (sl.clone(), accept.clone());
                    Session { lp: l2, accept, transport: None, lines: Lines::new() }
                },
                "127.0.0.1",
                0,
                ServerOptions::default(),
            )
            .await?;
        let port = server.addresses()[0].port().unwrap_or(0);

        // The client.
        let lines = Lines::new();
        let lc = lines.clone();
        let (plain, _) = l
            .create_connection(move || Forward(lc), "127.0.0.1", port, ConnectOptions::default())
            .await?;
        println!("S: {}", next_line(&l, &lines).await?);
        println!("C: STARTTLS");
        plain.write(b"STARTTLS\r\n")?;
        println!("S: {}", next_line(&l, &lines).await?);
        let proto = StreamProtocolRef::streaming(lines.clone());
        let tls = l.start_tls(&plain, proto, connect).await?;
        println!("-- upgraded: {:?}", tls.get_extra_info("ssl_protocol"));
        assert!(plain.write(b"in the clear").is_err(), "the old transport is unusable");
        tls.write(b"HELLO over TLS\r\n")?;
        println!("S: {}", next_line(&l, &lines).await?);
        tls.close();
        server.close();
        Ok::<_, tulip::Error>(())
    })??;
    lp.close()?;
    Ok(())
}

/// The client's protocol: forwards to the shared line collector (the same
/// collector keeps receiving after `start_tls`).
struct Forward(Rc<RefCell<Lines>>);
impl BaseProtocol for Forward {}
impl Protocol for Forward {
    fn data_received(&mut self, data: &[u8]) {
        self.0.borrow_mut().data_received(data);
    }
}

/// One server-side session.
struct Session {
    lp: Loop,
    accept: TlsAccept,
    transport: Option<TransportRef>,
    lines: Rc<RefCell<Lines>>,
}

impl BaseProtocol for Session {
    fn connection_made(&mut self, t: TransportRef) {
        let _ = t.write(b"220 ready\r\n");
        self.transport = Some(t);
    }
    fn connection_lost(&mut self, error: Option<Error>) {
        if let Some(e) = error {
            println!("server: connection lost: {e}");
        }
    }
}

impl Protocol for Session {
    fn data_received(&mut self, data: &[u8]) {
        if data.starts_with(b"STARTTLS") {
            let Some(plain) = self.transport.clone() else { return };
            let _ = plain.write(b"220 go ahead\r\n");
            let (lp, accept, lines) = (self.lp.clone(), self.accept.clone(), self.lines.clone());
            // The rest of the session is TLS: a task upgrades and serves it.
            let _ = self.lp.create_task(async move {
                let proto = StreamProtocolRef::streaming(lines.clone());
                let tls = lp.start_tls(&plain, proto, accept).await?;
                let line = next_line(&lp, &lines).await?;
                tls.write(format!("250 got {line:?}\r\n").as_bytes())?;
                Ok::<_, tulip::Error>(())
            });
        }
    }
}
