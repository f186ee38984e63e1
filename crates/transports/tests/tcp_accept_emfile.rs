//! Running out of fds while accepting: reported once, no busy loop, the
//! server keeps serving and accepts again after the back-off. (Its own test
//! binary: it lowers the process's fd limit.)

use std::cell::Cell;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use loop_core::Loop;
use loop_transports::{BaseProtocol, NetExt, Protocol, ServerOptions};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

struct Count(Rc<Cell<usize>>);
impl BaseProtocol for Count {
    fn connection_made(&mut self, _t: loop_transports::TransportRef) {
        self.0.set(self.0.get() + 1);
    }
}
impl Protocol for Count {}

#[test]
fn emfile_backs_off_and_recovers() {
    let lp = Loop::new().unwrap();
    let reports = Rc::new(Cell::new(0usize));
    let r2 = reports.clone();
    lp.set_exception_handler(Some(Rc::new(move |_, ctx| {
        assert!(ctx.message.contains("out of system resource"), "{ctx}");
        r2.set(r2.get() + 1);
    })));
    let accepted = Rc::new(Cell::new(0usize));
    let (l, a, r) = (lp.clone(), accepted.clone(), reports.clone());
    lp.run_until_complete(async move {
        let a2 = a.clone();
        let server = l
            .create_server(move || Count(a2.clone()), "127.0.0.1", 0, ServerOptions::default())
            .await
            .unwrap();
        let port = server.addresses()[0].port().unwrap();
        // Connect first (the kernel completes the handshake into the
        // backlog), then use up every fd so accept fails with EMFILE.
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let old = getrlimit(Resource::Nofile);
        let mut hog: Vec<OwnedFd> = Vec::new();
        setrlimit(Resource::Nofile, Rlimit { current: Some(64), maximum: old.maximum }).unwrap();
        while let Ok(fd) = rustix::io::dup(&client) {
            hog.push(fd);
        }
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_millis(300) {
            loop_core::sleep(Duration::from_millis(5)).await.unwrap();
        }
        assert_eq!(r.get(), 1, "reported once, not spinning");
        assert_eq!(a.get(), 0);
        assert!(server.is_serving());
        drop(hog);
        setrlimit(Resource::Nofile, old).unwrap();
        let t0 = Instant::now();
        while a.get() == 0 {
            assert!(t0.elapsed() < Duration::from_secs(10), "accepted after the back-off");
            loop_core::sleep(Duration::from_millis(5)).await.unwrap();
        }
        assert!(t0.elapsed() >= Duration::from_millis(500), "waited for the retry delay");
        drop(client);
        server.close();
    })
    .unwrap();
    assert_eq!(accepted.get(), 1);
    lp.close().unwrap();
}
