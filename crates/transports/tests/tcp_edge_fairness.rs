//! The stream transports watch their fds edge-triggered (issue 14): one read
//! per connection per iteration still holds — a peer with a full socket
//! cannot starve the others — and data followed at once by the peer's FIN
//! is delivered, then the EOF.

mod util;

use std::cell::RefCell;
use std::io::Write;
use std::net::TcpStream;
use std::rc::Rc;

use loop_transports::{
    BaseProtocol, BufferedProtocol, NetExt, Protocol, ServerOptions, TransportRef,
};
use util::{run, wait_until};

/// (connection, bytes) per read, in order.
type Log = Rc<RefCell<Vec<(usize, usize)>>>;

/// Reads through a small buffer, so a full socket takes many reads; starts
/// paused, so the test decides when reading begins.
struct Small {
    id: usize,
    log: Log,
    transports: Rc<RefCell<Vec<TransportRef>>>,
    buf: Vec<u8>,
}

impl BaseProtocol for Small {
    fn connection_made(&mut self, t: TransportRef) {
        t.pause_reading();
        self.transports.borrow_mut().push(t);
    }
}

impl BufferedProtocol for Small {
    fn get_buffer(&mut self, _hint: usize) -> &mut [u8] {
        &mut self.buf
    }
    fn buffer_updated(&mut self, n: usize) {
        self.log.borrow_mut().push((self.id, n));
    }
}

/// Writes to `s` (non-blocking) until the kernel refuses more; returns the
/// bytes written.
fn fill(s: &TcpStream) -> usize {
    s.set_nonblocking(true).unwrap();
    let chunk = [0xabu8; 16 * 1024];
    let mut total = 0;
    loop {
        match (&*s).write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return total,
            Err(e) => panic!("fill: {e}"),
        }
    }
}

#[test]
fn a_connection_with_a_full_socket_does_not_starve_another() {
    run(|lp| async move {
        let log: Log = Rc::default();
        let transports: Rc<RefCell<Vec<TransportRef>>> = Rc::default();
        let next = Rc::new(std::cell::Cell::new(0));
        let (l2, t2, n2) = (log.clone(), transports.clone(), next.clone());
        let server = lp
            .create_server(
                move || {
                    let id = n2.get();
                    n2.set(id + 1);
                    Small { id, log: l2.clone(), transports: t2.clone(), buf: vec![0; 1024] }
                },
                "127.0.0.1",
                0,
                ServerOptions::default(),
            )
            .await
            .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let flooder = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let t = transports.clone();
        wait_until("the flooder's connection", move || t.borrow().len() == 1).await;
        let quiet = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let t = transports.clone();
        wait_until("the quiet connection", move || t.borrow().len() == 2).await;
        let flood = fill(&flooder);
        assert!(flood > 64 * 1024, "only {flood} bytes fit in the socket");
        (&quiet).write_all(b"ping").unwrap();
        // Both resume in one iteration, the flooder first.
        for t in transports.borrow().iter() {
            t.resume_reading();
        }
        let l = log.clone();
        wait_until("the quiet connection's ping", move || {
            l.borrow().iter().any(|&(id, _)| id == 1)
        })
        .await;
        // The flooder had at most a read or two before the ping was read;
        // draining its socket first would take `flood / 1024` reads.
        let log = log.borrow();
        let first_ping = log.iter().position(|&(id, _)| id == 1).unwrap();
        assert!(
            first_ping <= 2,
            "{first_ping} reads of the flooder before the quiet connection's (of {})",
            flood / 1024
        );
        for t in transports.borrow().iter() {
            t.abort();
        }
        drop((flooder, quiet));
        server.close();
    });
}

/// Records data and EOF.
struct Tail {
    data: Rc<RefCell<Vec<u8>>>,
    eof: Rc<std::cell::Cell<bool>>,
}

impl BaseProtocol for Tail {
    fn connection_made(&mut self, _t: TransportRef) {}
}

impl Protocol for Tail {
    fn data_received(&mut self, d: &[u8]) {
        self.data.borrow_mut().extend_from_slice(d);
    }
    fn eof_received(&mut self) -> bool {
        self.eof.set(true);
        false
    }
}

#[test]
fn data_and_the_fin_arriving_together_deliver_both() {
    run(|lp| async move {
        let data: Rc<RefCell<Vec<u8>>> = Rc::default();
        let eof = Rc::new(std::cell::Cell::new(false));
        let (d2, e2) = (data.clone(), eof.clone());
        let server = lp
            .create_server(
                move || Tail { data: d2.clone(), eof: e2.clone() },
                "127.0.0.1",
                0,
                ServerOptions::default(),
            )
            .await
            .unwrap();
        let port = server.addresses()[0].port().unwrap();
        for round in 0..20 {
            data.borrow_mut().clear();
            eof.set(false);
            let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
            c.write_all(b"last words").unwrap();
            drop(c);
            let e = eof.clone();
            wait_until(&format!("the EOF of round {round}"), move || e.get()).await;
            assert_eq!(&*data.borrow(), b"last words");
        }
        server.close();
    });
}
