//! The TCP factories (ST-01) and the reader/writer over real sockets on
//! 127.0.0.1 (ST-02, ST-03): client callbacks plain and async, failing
//! callbacks, closing, half-closing, bad input, a vanishing peer.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use loop_core::Loop;
use loop_streams::{
    Error, StreamConnectOptions, StreamReader, StreamServerOptions, StreamWriter, open_connection,
    start_server,
};
use loop_transports::{Address, ExtraInfo, Server};
use util::{capture_exceptions, quiet_panics, run, wait_until, within};

/// Echoes until EOF, then closes.
async fn echo(reader: StreamReader, writer: StreamWriter) -> loop_streams::Result<()> {
    loop {
        let data = reader.read(64 * 1024).await?;
        if data.is_empty() {
            break;
        }
        writer.write(&data)?;
        writer.drain().await?;
    }
    writer.close();
    Ok(())
}

fn port(server: &Server) -> u16 {
    server.addresses()[0].port().unwrap()
}

async fn connect(port: u16) -> (StreamReader, StreamWriter) {
    within("connect", open_connection("127.0.0.1", port, StreamConnectOptions::default()))
        .await
        .unwrap()
}

#[test]
fn an_async_callback_serves_and_open_connection_talks_to_it() {
    run(|_lp| async move {
        let server = start_server(echo, "127.0.0.1", 0, Default::default()).await.unwrap();
        let (r, w) = connect(port(&server)).await;
        w.write(b"first line\nsecond ").unwrap();
        w.writelines(&[b"li", b"ne\n"]).unwrap();
        w.drain().await.unwrap();
        assert_eq!(within("line 1", r.readline()).await.unwrap(), b"first line\n");
        assert_eq!(within("line 2", r.readline()).await.unwrap(), b"second line\n");
        w.write(b"0123456789").unwrap();
        assert_eq!(within("readexactly", r.readexactly(10)).await.unwrap(), b"0123456789");
        w.write(b"a;b|").unwrap();
        assert_eq!(within("until", r.readuntil_any(&[b"|", b";"])).await.unwrap(), b"a;");
        assert_eq!(within("until", r.readuntil(b"|")).await.unwrap(), b"b|");
        w.close();
        within("wait_closed", w.wait_closed()).await.unwrap();
        server.close();
        within("server closed", server.wait_closed()).await;
    });
}

#[test]
fn a_plain_callback_runs_as_the_connection_is_made_and_dropping_the_pair_closes_it() {
    run(|_lp| async move {
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        let server = start_server(
            move |_r, w: StreamWriter| {
                c.set(c.get() + 1);
                w.write(b"hello from a plain callback\n").unwrap();
                // Returning drops the reader and the writer: the connection
                // closes once the greeting is sent.
            },
            "127.0.0.1",
            0,
            StreamServerOptions::default(),
        )
        .await
        .unwrap();
        let (r, _w) = connect(port(&server)).await;
        let all = within("greeting then EOF", r.read_to_eof()).await.unwrap();
        assert_eq!(all, b"hello from a plain callback\n");
        assert!(r.at_eof());
        assert_eq!(calls.get(), 1);
        server.close();
        within("server closed", server.wait_closed()).await;
    });
}

#[test]
fn a_callback_returning_an_error_is_reported_and_its_connection_closed() {
    run(|lp| async move {
        let seen = capture_exceptions(&lp);
        let server = start_server(
            |r: StreamReader, _w| async move {
                r.readexactly(100).await?;
                Ok::<(), Error>(())
            },
            "127.0.0.1",
            0,
            Default::default(),
        )
        .await
        .unwrap();
        let (r, w) = connect(port(&server)).await;
        w.write(b"short").unwrap();
        w.write_eof().unwrap();
        assert_eq!(within("EOF", r.read(10)).await.unwrap(), b"");
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].message, "Unhandled exception in client_connected_cb");
        let err = Error::from(seen[0].error.clone().unwrap());
        assert!(matches!(err, Error::IncompleteRead { expected: Some(100), .. }), "{err:?}");
        assert!(seen[0].transport.as_deref().unwrap().contains("127.0.0.1"));
        assert!(seen[0].task.is_some());
        server.close();
    });
}

#[test]
fn panicking_callbacks_are_reported_close_their_connection_and_the_server_keeps_serving() {
    quiet_panics();
    run(|lp| async move {
        let seen = capture_exceptions(&lp);
        let n = Rc::new(Cell::new(0));
        let n2 = n.clone();
        let server = start_server(
            move |r, w| {
                let i = n2.get();
                n2.set(i + 1);
                async move {
                    if i == 0 {
                        panic!("provoked panic in an async callback");
                    }
                    echo(r, w).await
                }
            },
            "127.0.0.1",
            0,
            Default::default(),
        )
        .await
        .unwrap();
        let plain = start_server(
            |_r, _w| -> () { panic!("provoked panic in a plain callback") },
            "127.0.0.1",
            0,
            Default::default(),
        )
        .await
        .unwrap();

        let (r1, _w1) = connect(port(&server)).await;
        assert_eq!(within("EOF after the panic", r1.read(10)).await.unwrap(), b"");
        let (r2, _w2) = connect(port(&plain)).await;
        assert_eq!(within("EOF after the panic", r2.read(10)).await.unwrap(), b"");

        let (r, w) = connect(port(&server)).await;
        w.write(b"still serving\n").unwrap();
        assert_eq!(within("echo", r.readline()).await.unwrap(), b"still serving\n");

        let seen = seen.borrow();
        assert_eq!(seen.len(), 2, "{seen:?}");
        for (ctx, what) in seen.iter().zip(["async", "plain"]) {
            assert_eq!(ctx.message, "Unhandled exception in client_connected_cb");
            match &ctx.error {
                Some(loop_core::Error::Panicked(m)) => assert!(m.contains(what), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(server.is_serving());
        w.close();
        server.close();
        plain.close();
    });
}

#[test]
fn dropping_the_clients_reader_and_writer_closes_the_connection() {
    run(|lp| async move {
        let got_eof = lp.create_future::<Vec<u8>>();
        let g = got_eof.clone();
        let server = start_server(
            move |r: StreamReader, _w| {
                let g = g.clone();
                async move {
                    let all = r.read_to_eof().await.unwrap();
                    let _ = g.set_result(all);
                }
            },
            "127.0.0.1",
            0,
            Default::default(),
        )
        .await
        .unwrap();
        let (r, w) = connect(port(&server)).await;
        w.write(b"bye").unwrap();
        drop(w);
        assert!(!got_eof.done(), "the reader still holds the connection open");
        drop(r);
        assert_eq!(within("server sees EOF", got_eof).await.unwrap(), b"bye");
        server.close();
        within("server closed", server.wait_closed()).await;
    });
}

#[test]
fn write_eof_half_closes_and_the_reply_still_arrives() {
    run(|_lp| async move {
        let server = start_server(
            |r: StreamReader, w: StreamWriter| async move {
                let all = r.read_to_eof().await?;
                w.write(format!("got {} bytes", all.len()).as_bytes())?;
                w.close();
                Ok::<(), Error>(())
            },
            "127.0.0.1",
            0,
            Default::default(),
        )
        .await
        .unwrap();
        let (r, w) = connect(port(&server)).await;
        assert!(w.can_write_eof());
        w.write(&[7u8; 3000]).unwrap();
        w.write_eof().unwrap();
        assert!(matches!(w.write(b"x"), Err(Error::Transport(_))), "no writes after write_eof");
        assert_eq!(within("reply", r.read_to_eof()).await.unwrap(), b"got 3000 bytes");
        // Both directions ended, but as in asyncio the transport stays open
        // until closed (eof_received keeps it open for writing).
        assert!(!w.is_closing());
        w.close();
        within("closed", w.wait_closed()).await.unwrap();
        server.close();
    });
}

#[test]
fn the_writer_reports_addresses_and_refuses_writes_after_close() {
    run(|_lp| async move {
        let server = start_server(echo, "127.0.0.1", 0, Default::default()).await.unwrap();
        let (_r, w) = connect(port(&server)).await;
        match w.get_extra_info("peername") {
            Some(ExtraInfo::Address(Address::Inet(a))) => assert_eq!(a.port(), port(&server)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(w.get_extra_info("sockname"), Some(ExtraInfo::Address(_))));
        assert!(w.transport().peername().is_some());
        w.close();
        assert!(w.is_closing());
        assert!(matches!(w.write(b"late"), Err(Error::Transport(loop_transports::Error::Closed))));
        assert!(matches!(within("drain", w.drain()).await, Err(Error::ConnectionLost)));
        within("closed", w.wait_closed()).await.unwrap();
        server.close();
    });
}

#[test]
fn a_peer_closing_mid_readuntil_gives_incomplete_read_with_the_partial_bytes() {
    run(|_lp| async move {
        let server = start_server(
            |_r, w: StreamWriter| {
                let _ = w.write(b"no separator here");
                w.close();
            },
            "127.0.0.1",
            0,
            Default::default(),
        )
        .await
        .unwrap();
        let (r, _w) = connect(port(&server)).await;
        match within("readuntil", r.readuntil(b"\r\n\r\n")).await {
            Err(Error::IncompleteRead { partial, expected: None }) => {
                assert_eq!(partial, b"no separator here");
            }
            other => panic!("{other:?}"),
        }
        server.close();
    });
}

#[test]
fn a_peer_resetting_mid_readuntil_surfaces_the_reset() {
    run(|_lp| async move {
        let (r, w) = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let pair = connect(port).await;
            let (peer, _) = listener.accept().unwrap();
            std::io::Write::write_all(&mut &peer, b"partial").unwrap();
            rustix::net::sockopt::set_socket_linger(&peer, Some(Duration::ZERO)).unwrap();
            // Let the bytes arrive before the reset.
            assert_eq!(within("partial", pair.0.readexactly(3)).await.unwrap(), b"par");
            drop(peer);
            pair
        };
        let err = within("readuntil", r.readuntil(b"\n")).await.unwrap_err();
        assert_eq!(err.io_error().map(|e| e.kind()), Some(std::io::ErrorKind::ConnectionReset));
        assert!(r.exception().is_some());
        assert!(matches!(within("wait_closed", w.wait_closed()).await, Err(Error::Transport(_))));
        assert!(within("drain", w.drain()).await.is_err());
    });
}

#[test]
fn the_reader_pauses_a_flooding_peer_and_reads_everything_after() {
    run(|_lp| async move {
        let reader_slot = Rc::new(std::cell::RefCell::new(None));
        let slot = reader_slot.clone();
        let server = start_server(
            move |r: StreamReader, w: StreamWriter| {
                *slot.borrow_mut() = Some((r, w));
            },
            "127.0.0.1",
            0,
            StreamServerOptions::default().with_limit(1024),
        )
        .await
        .unwrap();
        let (_cr, cw) = connect(port(&server)).await;
        let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        cw.write(&payload).unwrap();
        cw.write_eof().unwrap();
        wait_until("the server's connection", || reader_slot.borrow().is_some()).await;
        let transport = reader_slot.borrow().as_ref().unwrap().1.transport().clone();
        // Nobody reads on the server side: its reader stops reading from
        // the socket once more than 2 × 1024 bytes are buffered.
        wait_until("the transport to pause", || !transport.is_reading()).await;
        let (r, w) = reader_slot.borrow_mut().take().unwrap();
        let mut got = Vec::new();
        loop {
            let chunk = within("read", r.read(4096)).await.unwrap();
            if chunk.is_empty() {
                break;
            }
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got.len(), payload.len());
        assert!(got == payload);
        drop((r, w));
        server.close();
        within("server closed", server.wait_closed()).await;
    });
}

/// A server whose reader waits until `go` is set before reading everything.
async fn slow_reader_server(
    lp: &Loop,
    go: loop_core::LoopFuture<()>,
) -> (Server, loop_core::LoopFuture<usize>) {
    let total = lp.create_future::<usize>();
    let t = total.clone();
    let server = start_server(
        move |r: StreamReader, _w| {
            let (go, t) = (go.clone(), t.clone());
            async move {
                go.await.unwrap();
                let all = r.read_to_eof().await.unwrap();
                let _ = t.set_result(all.len());
            }
        },
        "127.0.0.1",
        0,
        Default::default(),
    )
    .await
    .unwrap();
    (server, total)
}

#[test]
fn drain_waits_while_the_peer_does_not_read_and_several_tasks_drain_at_once() {
    run(|lp| async move {
        let go = lp.create_future::<()>();
        let (server, total) = slow_reader_server(&lp, go.clone()).await;
        let (_r, w) = connect(port(&server)).await;
        // Far more than the socket buffers hold: the transport keeps the
        // rest and pauses writing.
        let big = vec![1u8; 32 * 1024 * 1024];
        w.write(&big).unwrap();
        let drained = Rc::new(Cell::new(0));
        let mut drainers = Vec::new();
        for _ in 0..3 {
            let (w, d) = (w.clone(), drained.clone());
            drainers.push(
                lp.create_task(async move {
                    w.drain().await.unwrap();
                    d.set(d.get() + 1);
                })
                .unwrap(),
            );
        }
        // Give the drainers loop iterations (no clock involved): none may
        // finish while the peer does not read.
        for _ in 0..50 {
            futures_lite::future::yield_now().await;
        }
        assert_eq!(drained.get(), 0, "drain returned while writing was paused");
        assert!(w.transport().get_write_buffer_size() > 0);
        go.set_result(()).unwrap();
        for d in drainers {
            within("drainer", d).await.unwrap();
        }
        assert_eq!(drained.get(), 3);
        w.close();
        assert_eq!(within("server total", total).await.unwrap(), big.len());
        server.close();
    });
}

#[test]
fn drain_surfaces_a_connection_lost_while_paused() {
    run(|lp| async move {
        let peer_transport = Rc::new(std::cell::RefCell::new(None));
        let pt = peer_transport.clone();
        let server = start_server(
            move |r: StreamReader, w: StreamWriter| {
                *pt.borrow_mut() = Some((r, w));
            },
            "127.0.0.1",
            0,
            Default::default(),
        )
        .await
        .unwrap();
        let (_r, w) = connect(port(&server)).await;
        w.write(&vec![0u8; 32 * 1024 * 1024]).unwrap();
        let drain = {
            let w = w.clone();
            lp.create_task(async move { w.drain().await }).unwrap()
        };
        for _ in 0..20 {
            futures_lite::future::yield_now().await;
        }
        assert!(!drain.done(), "the drain waits while the peer does not read");
        // The server side goes away without reading: the client's
        // connection is lost.
        let (sr, sw) = peer_transport.borrow_mut().take().unwrap();
        sw.transport().abort();
        drop((sr, sw));
        let outcome = within("drain", drain).await.unwrap();
        assert!(outcome.is_err(), "{outcome:?}");
        server.close();
    });
}

#[test]
fn bad_input_gets_typed_errors() {
    run(|_lp| async move {
        let r =
            open_connection("127.0.0.1", 1, StreamConnectOptions::default().with_limit(0)).await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))));
        let s = start_server(echo, "127.0.0.1", 0, StreamServerOptions::default().with_limit(0));
        assert!(matches!(s.await, Err(Error::InvalidArgument(_))));
        // A port nobody listens on.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let r = open_connection("127.0.0.1", port, Default::default()).await;
        assert!(matches!(r, Err(Error::Transport(loop_transports::Error::Connect(_)))), "{r:?}");
    });
    // Outside a running loop.
    let r = futures_lite::future::block_on(open_connection("127.0.0.1", 1, Default::default()));
    assert!(matches!(r, Err(Error::Loop(loop_core::Error::NoRunningLoop))), "{r:?}");
}

#[test]
fn server_scoped_and_wait_closed_work_for_stream_servers() {
    run(|_lp| async move {
        let server = start_server(echo, "127.0.0.1", 0, Default::default()).await.unwrap();
        let p = port(&server);
        let (r, w) = server
            .scoped(|_s| async move {
                let (r, w) = connect(p).await;
                w.write(b"ping\n").unwrap();
                assert_eq!(within("echo", r.readline()).await.unwrap(), b"ping\n");
                (r, w)
            })
            .await;
        assert!(!server.is_serving(), "scoped closed the server");
        let mut closed = std::pin::pin!(server.wait_closed());
        assert!(
            futures_lite::future::poll_once(closed.as_mut()).await.is_none(),
            "a connection is still open"
        );
        w.close();
        drop(r);
        within("server closed", closed).await;
    });
}
