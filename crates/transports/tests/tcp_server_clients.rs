//! `Server::close_clients` and `Server::abort_clients` (asyncio 3.13): the
//! server closes or aborts the connections it accepted.

mod util;

use std::rc::{Rc, Weak};

use loop_core::Loop;
use loop_transports::{Server, TransportRef};
use util::{Conns, Ev, Recorder, recording_server, run, wait_until, within};

/// Bytes each server-side connection writes when it is made: more than the
/// sockets can hold, so some stay buffered in the transport.
const GREETING: usize = 8 << 20;

fn greeting() -> Vec<u8> {
    (0..GREETING).map(|i| (i % 253) as u8).collect()
}

/// A recording server whose connections write [`GREETING`] bytes at once,
/// and `n` clients connected to it (their recorders).
async fn server_with_clients(
    lp: &Loop,
    n: usize,
) -> (Server, Conns, Vec<Rc<std::cell::RefCell<Recorder>>>) {
    let (server, port, conns) = recording_server(lp, |r| {
        r.on_made = Some(Box::new(|t: &TransportRef| t.write(&greeting()).unwrap()));
    })
    .await;
    let mut clients = Vec::new();
    for _ in 0..n {
        let (_t, c) = util::connect_recorder(lp, port).await;
        clients.push(c);
    }
    wait_until("every connection accepted", || conns.borrow().len() == n).await;
    assert_eq!(server.active_connections(), n);
    (server, conns, clients)
}

#[test]
fn close_clients_closes_every_connection_after_flushing() {
    run(|lp| async move {
        let (server, conns, clients) = server_with_clients(&lp, 3).await;
        let buffered: usize = conns
            .borrow()
            .iter()
            .map(|c| c.borrow().transport.as_ref().unwrap().get_write_buffer_size())
            .sum();
        assert!(buffered > 0, "some of the greetings are still buffered");
        server.close_clients();
        for c in conns.borrow().iter() {
            let t = c.borrow().transport.clone().unwrap();
            assert!(t.is_closing(), "closing at once");
        }
        let server_side: Vec<_> = conns.borrow().clone();
        for c in server_side {
            let lost = c.borrow().lost.clone();
            assert_eq!(within("the server side's connection_lost", lost).await, None);
        }
        let want = greeting();
        for c in &clients {
            let lost = c.borrow().lost.clone();
            within("the client's connection_lost", lost).await;
            assert!(Recorder::data(&c.borrow().log) == want, "every buffered byte was sent first");
            assert!(c.borrow().log.borrow().contains(&Ev::Eof));
        }
        assert_eq!(server.active_connections(), 0);
        // The server still listens: close_clients is not close.
        assert!(server.is_serving());
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn abort_clients_drops_buffered_data() {
    run(|lp| async move {
        let (server, conns, clients) = server_with_clients(&lp, 2).await;
        server.abort_clients();
        let server_side: Vec<_> = conns.borrow().clone();
        for c in server_side {
            let lost = c.borrow().lost.clone();
            assert_eq!(within("the server side's connection_lost", lost).await, None);
        }
        for c in &clients {
            let lost = c.borrow().lost.clone();
            within("the client's connection_lost", lost).await;
            let got = Recorder::data(&c.borrow().log).len();
            assert!(got < GREETING, "aborted: buffered data dropped ({got} bytes arrived)");
        }
        assert_eq!(server.active_connections(), 0);
        server.close();
        server.wait_closed().await;
    });
}

/// The server tracks its connections weakly: a closed connection's
/// transport is freed, whatever the server holds.
#[test]
fn the_server_does_not_keep_closed_connections_alive() {
    run(|lp| async move {
        let (server, conns, clients) = server_with_clients(&lp, 1).await;
        let weak: Weak<dyn loop_transports::Transport> =
            Rc::downgrade(conns.borrow()[0].borrow().transport.as_ref().unwrap());
        server.abort_clients();
        let lost = conns.borrow()[0].borrow().lost.clone();
        within("connection_lost", lost).await;
        let lost = clients[0].borrow().lost.clone();
        within("the client's connection_lost", lost).await;
        conns.borrow_mut().clear();
        drop(clients);
        wait_until("the transport is freed", || weak.upgrade().is_none()).await;
        // Nothing left to close.
        server.close_clients();
        server.abort_clients();
        server.close();
        server.wait_closed().await;
    });
}
