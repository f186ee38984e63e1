//! `create_server` and `Server` (SPEC TR-04, TR-05), and the connection
//! options of `create_connection` (TR-03).

mod util;

use std::net::TcpListener;
use std::time::Duration;

use loop_transports::{Address, ConnectOptions, Error, Family, Hosts, NetExt, ServerOptions};
use util::{Echo, Recorder, run, wait_until, within};

/// An echo server on an ephemeral 127.0.0.1 port, created with
/// `start_serving: false`.
async fn unstarted_server(lp: &loop_core::Loop) -> loop_transports::Server {
    lp.create_server(
        Echo::default,
        "127.0.0.1",
        0,
        ServerOptions::default().with_start_serving(false),
    )
    .await
    .unwrap()
}

async fn echo_roundtrip(lp: &loop_core::Loop, host: &str, port: u16) {
    let l2 = lp.clone();
    let (t, c) = lp
        .create_connection(move || Recorder::new(&l2), host, port, ConnectOptions::default())
        .await
        .unwrap();
    t.write(b"abc").unwrap();
    wait_until("echo", || Recorder::data(&c.borrow().log) == b"abc").await;
    t.close();
    let lost = c.borrow().lost.clone();
    within("lost", lost).await;
}

#[test]
fn all_interfaces_listens_on_ipv4_and_ipv6() {
    run(|lp| async move {
        let server =
            lp.create_server(Echo::default, "", 0, ServerOptions::default()).await.unwrap();
        let addrs = server.addresses();
        assert_eq!(addrs.len(), 2, "{addrs:?}");
        assert!(addrs.iter().any(|a| a.as_inet().unwrap().is_ipv4()));
        assert!(addrs.iter().any(|a| a.as_inet().unwrap().is_ipv6()));
        assert_eq!(server.sockets().len(), 2);
        for a in &addrs {
            let host = if a.as_inet().unwrap().is_ipv4() { "127.0.0.1" } else { "::1" };
            echo_roundtrip(&lp, host, a.port().unwrap()).await;
        }
        server.close();
        assert!(server.sockets().is_empty());
        let v4only = lp
            .create_server(
                Echo::default,
                Hosts::Any,
                0,
                ServerOptions::default().with_family(Family::Inet),
            )
            .await
            .unwrap();
        assert_eq!(v4only.addresses().len(), 1);
        v4only.close();
    });
}

#[test]
fn several_hosts_one_port_each() {
    run(|lp| async move {
        let server = lp
            .create_server(Echo::default, ["127.0.0.1", "::1"], 0, ServerOptions::default())
            .await
            .unwrap();
        assert_eq!(server.addresses().len(), 2);
        echo_roundtrip(&lp, "127.0.0.1", server.addresses()[0].port().unwrap()).await;
        echo_roundtrip(&lp, "::1", server.addresses()[1].port().unwrap()).await;
        server.close();
    });
}

#[test]
fn start_serving_flag_and_idempotent_start() {
    run(|lp| async move {
        let server = unstarted_server(&lp).await;
        assert!(!server.is_serving());
        server.start_serving().await.unwrap();
        server.start_serving().await.unwrap();
        assert!(server.is_serving());
        echo_roundtrip(&lp, "127.0.0.1", server.addresses()[0].port().unwrap()).await;
        server.close();
        assert!(!server.is_serving());
        assert!(matches!(server.start_serving().await, Err(Error::InvalidState(_))));
        server.close();
    });
}

#[test]
fn serve_forever_one_at_a_time_and_cancellation_closes() {
    run(|lp| async move {
        let server = unstarted_server(&lp).await;
        let s2 = server.clone();
        let task = lp.create_task(async move { s2.serve_forever().await }).unwrap();
        wait_until("serving", || server.is_serving()).await;
        assert!(matches!(server.serve_forever().await, Err(Error::InvalidState(_))));
        echo_roundtrip(&lp, "127.0.0.1", server.addresses()[0].port().unwrap()).await;
        task.cancel();
        assert!(matches!(task.await, Err(loop_core::Error::Cancelled { .. })));
        assert!(server.is_closed(), "cancelling serve_forever closes the server");
        // close() ends a running serve_forever normally.
        let server = unstarted_server(&lp).await;
        let s2 = server.clone();
        let task = lp.create_task(async move { s2.serve_forever().await }).unwrap();
        wait_until("serving", || server.is_serving()).await;
        server.close();
        task.await.unwrap().unwrap();
    });
}

#[test]
fn close_leaves_connections_open_and_wait_closed_waits_for_them() {
    run(|lp| async move {
        let server = lp
            .create_server(Echo::default, "127.0.0.1", 0, ServerOptions::default())
            .await
            .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let (t, c) = util::connect_recorder(&lp, port).await;
        wait_until("accepted", || server.active_connections() == 1).await;
        server.close();
        let s2 = server.clone();
        let waiting = lp.create_task(async move { s2.wait_closed().await }).unwrap();
        // The accepted connection still echoes.
        t.write(b"still here").unwrap();
        wait_until("echo", || Recorder::data(&c.borrow().log) == b"still here").await;
        assert!(!waiting.done());
        // New connections are refused.
        let l2 = lp.clone();
        let refused = lp
            .create_connection(
                move || Recorder::new(&l2),
                "127.0.0.1",
                port,
                ConnectOptions::default(),
            )
            .await;
        assert!(matches!(refused, Err(Error::Connect(_))));
        t.close();
        waiting.await.unwrap();
        assert_eq!(server.active_connections(), 0);
    });
}

#[test]
fn scoped_server_closes_on_exit() {
    run(|lp| async move {
        let server = lp
            .create_server(Echo::default, "127.0.0.1", 0, ServerOptions::default())
            .await
            .unwrap();
        let l2 = lp.clone();
        let port = server
            .scoped(|srv| async move {
                let port = srv.addresses()[0].port().unwrap();
                echo_roundtrip(&l2, "127.0.0.1", port).await;
                port
            })
            .await;
        assert!(server.is_closed());
        assert!(port > 0);
        server.wait_closed().await;
    });
}

#[test]
fn existing_listening_socket_and_reuse_port() {
    run(|lp| async move {
        let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let server = lp
            .create_server(
                Echo::default,
                Hosts::Any,
                0,
                ServerOptions::default().with_sock(Some(std_listener.into())),
            )
            .await
            .unwrap();
        assert_eq!(
            server.addresses(),
            vec![Address::Inet(format!("127.0.0.1:{port}").parse().unwrap())]
        );
        echo_roundtrip(&lp, "127.0.0.1", port).await;
        server.close();

        let opts = || ServerOptions::default().with_reuse_port(true);
        let a = lp.create_server(Echo::default, "127.0.0.1", 0, opts()).await.unwrap();
        let port = a.addresses()[0].port().unwrap();
        let b = lp.create_server(Echo::default, "127.0.0.1", port, opts()).await.unwrap();
        assert_eq!(b.addresses()[0].port(), Some(port));
        a.close();
        b.close();
    });
}

#[test]
fn connect_with_existing_socket_local_addr_and_happy_eyeballs() {
    run(|lp| async move {
        let server = lp
            .create_server(
                Echo::default,
                ["127.0.0.1", "::1"],
                0,
                ServerOptions::default().with_reuse_port(true),
            )
            .await
            .unwrap();
        let port4 = server.addresses()[0].port().unwrap();

        // An already connected socket.
        let std_stream = std::net::TcpStream::connect(("127.0.0.1", port4)).unwrap();
        let l2 = lp.clone();
        let (t, c) = lp
            .create_connection(
                move || Recorder::new(&l2),
                "",
                0,
                ConnectOptions::default().with_sock(Some(std_stream.into())),
            )
            .await
            .unwrap();
        t.write(b"sock").unwrap();
        wait_until("echo", || Recorder::data(&c.borrow().log) == b"sock").await;
        t.close();

        // local_addr: the connection comes from the requested address.
        let l2 = lp.clone();
        let (t, _c) = lp
            .create_connection(
                move || Recorder::new(&l2),
                "127.0.0.1",
                port4,
                ConnectOptions::default().with_local_addr(Some(("127.0.0.1".into(), 0))),
            )
            .await
            .unwrap();
        assert_eq!(t.sockname().unwrap().as_inet().unwrap().ip().to_string(), "127.0.0.1");
        t.close();

        // Happy Eyeballs over "localhost" (::1 and 127.0.0.1): one of them
        // answers within the delay.
        let l2 = lp.clone();
        let (t, c) = lp
            .create_connection(
                move || Recorder::new(&l2),
                "localhost",
                port4,
                ConnectOptions::default()
                    .with_happy_eyeballs_delay(Some(Duration::from_millis(250))),
            )
            .await
            .unwrap();
        t.write(b"he").unwrap();
        wait_until("echo", || Recorder::data(&c.borrow().log) == b"he").await;
        t.close();
        server.close();
    });
}

#[test]
fn happy_eyeballs_races_past_a_blackholed_address() {
    // 192.0.2.1 (TEST-NET-1) never answers here... but it must not be
    // contacted: use an address whose connect stays pending instead — a
    // listener with a full backlog is not portable, so race a refused port
    // against a good one and check the good one wins.
    run(|lp| async move {
        let server = lp
            .create_server(Echo::default, "127.0.0.1", 0, ServerOptions::default())
            .await
            .unwrap();
        let port = server.addresses()[0].port().unwrap();
        // ::1 on this port is closed (refused at once); 127.0.0.1 listens.
        let l2 = lp.clone();
        let (t, _) = lp
            .create_connection(
                move || Recorder::new(&l2),
                "localhost",
                port,
                ConnectOptions::default().with_happy_eyeballs_delay(Some(Duration::from_secs(5))),
            )
            .await
            .unwrap();
        assert_eq!(t.peername().unwrap().port(), Some(port));
        t.close();
        server.close();
    });
}
