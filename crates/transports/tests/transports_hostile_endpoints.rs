//! Hostile input to the connection, server, pipe, datagram and DNS entry
//! points (issue 13, "Bad input"): Unix paths no socket can have or that
//! name something else, sockets of the wrong kind or state, pipe ends of
//! the wrong kind or direction, options at their limits, names with NUL
//! bytes. Each call ends promptly (a deadline fails the test) with a typed
//! error — the errno kept for OS errors — or a defined result, and
//! `util::run` checks that no fd leaked. The cases pinned in
//! `tcp_bad_input.rs`, `os_errors.rs`, `unix_sockets.rs`, `pipes.rs` and
//! `udp_datagrams.rs` are not repeated.

mod util;

use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::rc::Rc;
use std::time::Duration;

use loop_transports::{
    AddrInfo, AddrInfoHints, ConnectOptions, DatagramOptions, Endpoint, Error, Family, Hosts,
    NetExt, ResolveFuture, Resolver, ServerOptions, SockType, UnixAddress, UnixServerOptions,
};
use rustix::io::Errno;
use util::{Echo, Recorder, run};

/// How long one hostile call may take: far more than any of them needs.
const PROMPT: Duration = Duration::from_secs(5);

async fn prompt<T>(what: &str, fut: impl Future<Output = T>) -> T {
    loop_core::timeout(PROMPT, fut).await.unwrap_or_else(|e| panic!("{what}: no answer ({e})"))
}

#[track_caller]
fn invalid<T>(what: &str, r: Result<T, Error>) -> String {
    match r {
        Err(Error::InvalidArgument(m)) => m,
        Err(e) => panic!("{what}: expected InvalidArgument, got {e:?}"),
        Ok(_) => panic!("{what}: expected InvalidArgument, got Ok"),
    }
}

#[track_caller]
fn errno<T>(what: &str, r: Result<T, Error>, want: &[Errno]) {
    match r {
        Err(e) => assert!(
            want.iter().any(|w| e.raw_os_error() == Some(w.raw_os_error())),
            "{what}: expected one of {want:?}, got {e:?}"
        ),
        Ok(_) => panic!("{what}: expected one of {want:?}, got Ok"),
    }
}

fn temp_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tulip-hostile-{}-{tag}", std::process::id()))
}

/// Unix addresses no `sockaddr_un` can hold.
fn impossible_unix_addresses() -> Vec<UnixAddress> {
    vec![
        UnixAddress::path("/tmp/tulip\0evil"),
        UnixAddress::path(format!("/tmp/{}", "p".repeat(200))),
        UnixAddress::abstract_name(vec![b'a'; 200]),
    ]
}

#[test]
fn unix_addresses_no_socket_can_have_are_invalid_everywhere() {
    run(|lp| async move {
        for addr in impossible_unix_addresses() {
            let what = format!("{addr:?}");
            let l2 = lp.clone();
            let r = prompt(
                "connect",
                lp.create_unix_connection(move || Recorder::new(&l2), Some(addr.clone()), None),
            )
            .await;
            let m = invalid(&what, r);
            assert!(m.contains("Unix socket address"), "{m}");
            let r = prompt(
                "server",
                lp.create_unix_server(Echo::default, Some(addr.clone()), Default::default()),
            )
            .await;
            invalid(&what, r);
            for opts in [
                DatagramOptions::default()
                    .with_family(Family::Unix)
                    .with_local_addr(Some(Endpoint::Unix(addr.clone()))),
                DatagramOptions::default().with_remote_addr(Some(Endpoint::Unix(addr.clone()))),
            ] {
                let r = prompt("datagram", lp.create_datagram_endpoint(Dg::default, opts)).await;
                invalid(&what, r);
            }
        }
        // A datagram transport refuses such a destination at once, instead
        // of reporting an error without an errno later.
        let (sock, _peer) = UnixDatagram::pair().unwrap();
        let opts = DatagramOptions::default().with_sock(Some(sock.into()));
        let (t, _) = lp.create_datagram_endpoint(Dg::default, opts).await.unwrap();
        for addr in impossible_unix_addresses() {
            let r = t.sendto(b"x", Some(&loop_transports::Address::Unix(addr)));
            invalid("sendto", r);
        }
        t.close();
    });
}

#[test]
fn unix_paths_that_name_no_socket() {
    run(|lp| async move {
        let file = temp_path("plain-file");
        std::fs::write(&file, b"keep").unwrap();
        let dir = temp_path("a-directory");
        std::fs::create_dir_all(&dir).unwrap();
        for p in [&file, &dir] {
            let l2 = lp.clone();
            let r = prompt(
                "connect",
                lp.create_unix_connection(
                    move || Recorder::new(&l2),
                    Some(UnixAddress::path(p)),
                    None,
                ),
            )
            .await;
            assert!(matches!(r, Err(Error::Connect(_))), "{:?}", r.as_ref().err());
            errno(&p.display().to_string(), r, &[Errno::CONNREFUSED]);
        }
        // A server never replaces a directory (nor a file: unix_sockets.rs).
        let r = prompt(
            "server",
            lp.create_unix_server(Echo::default, Some(UnixAddress::path(&dir)), Default::default()),
        )
        .await;
        let m = invalid("directory", r);
        assert!(m.contains("not a socket"), "{m}");
        assert!(dir.is_dir() && file.is_file());
        std::fs::remove_dir(&dir).unwrap();
        std::fs::remove_file(&file).unwrap();
    });
}

fn listening_tcp() -> OwnedFd {
    TcpListener::bind("127.0.0.1:0").unwrap().into()
}

#[test]
fn sockets_of_the_wrong_kind_or_state_for_a_connection() {
    run(|lp| async move {
        let (pr, _pw) = rustix::pipe::pipe().unwrap();
        let file: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
        let udp: OwnedFd = UdpSocket::bind("127.0.0.1:0").unwrap().into();
        let path = temp_path("listening.sock");
        let _ = std::fs::remove_file(&path);
        let unix_listening: OwnedFd = UnixListener::bind(&path).unwrap().into();
        std::fs::remove_file(&path).unwrap();
        let cases: Vec<(&str, OwnedFd)> = vec![
            ("a pipe", pr),
            ("a character device", file),
            ("a UDP socket", udp),
            ("a listening TCP socket", listening_tcp()),
            ("a listening Unix socket", unix_listening),
        ];
        for (what, fd) in cases {
            let dup = fd.try_clone().unwrap();
            let dup2 = fd.try_clone().unwrap();
            let l2 = lp.clone();
            let r = prompt(what, lp.connect_accepted_socket(move || Recorder::new(&l2), fd)).await;
            invalid(&format!("connect_accepted_socket with {what}"), r);
            let l2 = lp.clone();
            let opts = ConnectOptions::default().with_sock(Some(dup));
            let r =
                prompt(what, lp.create_connection(move || Recorder::new(&l2), "", 0, opts)).await;
            invalid(&format!("create_connection with {what}"), r);
            let l2 = lp.clone();
            let r = prompt(
                what,
                lp.create_unix_connection(move || Recorder::new(&l2), None, Some(dup2)),
            )
            .await;
            invalid(&format!("create_unix_connection with {what}"), r);
        }
        // Servers: a socket of another type or family.
        let (d, _) = UnixDatagram::pair().unwrap();
        let r = prompt(
            "server",
            lp.create_server(
                Echo::default,
                Hosts::Any,
                0,
                ServerOptions::default().with_sock(Some(d.into())),
            ),
        )
        .await;
        invalid("create_server with a datagram socket", r);
        let r = prompt(
            "unix server",
            lp.create_unix_server(
                Echo::default,
                None,
                UnixServerOptions::default().with_sock(Some(listening_tcp())),
            ),
        )
        .await;
        invalid("create_unix_server with a TCP socket", r);
    });
}

#[test]
fn a_socket_that_was_never_connected_loses_its_connection_at_once() {
    run(|lp| async move {
        let fresh: OwnedFd = rustix::net::socket(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::STREAM,
            None,
        )
        .unwrap();
        let l2 = lp.clone();
        let (t, p) = prompt("wrap", lp.connect_accepted_socket(move || Recorder::new(&l2), fresh))
            .await
            .unwrap();
        let lost = p.borrow().lost.clone();
        let err = util::within("connection_lost", lost).await;
        assert!(t.is_closing());
        // Reading an unconnected socket: EOF (no error) or ENOTCONN.
        if let Some(e) = err {
            assert!(e.contains("not connected") || e.contains("107"), "{e}");
        }
    });
}

#[test]
fn pipe_transports_on_fds_that_are_no_pipe_end_of_the_right_direction() {
    run(|lp| async move {
        let dir = || -> OwnedFd { std::fs::File::open(std::env::temp_dir()).unwrap().into() };
        let l2 = lp.clone();
        let r = prompt("read dir", lp.connect_read_pipe(move || Recorder::new(&l2), dir())).await;
        invalid("connect_read_pipe with a directory", r);
        let l2 = lp.clone();
        let r = prompt("write dir", lp.connect_write_pipe(move || Recorder::new(&l2), dir())).await;
        invalid("connect_write_pipe with a directory", r);
        // The wrong end: a read transport on a write end would never read,
        // a write transport on a read end could never write.
        let (r_end, w_end) = rustix::pipe::pipe().unwrap();
        let l2 = lp.clone();
        let r = prompt("read on w", lp.connect_read_pipe(move || Recorder::new(&l2), w_end)).await;
        invalid("connect_read_pipe with a write end", r);
        let l2 = lp.clone();
        let r =
            prompt("write on r", lp.connect_write_pipe(move || Recorder::new(&l2), r_end)).await;
        invalid("connect_write_pipe with a read end", r);
        // A character device that cannot be polled (/dev/null): the loop's
        // typed refusal, before the protocol is even made.
        let null: OwnedFd =
            std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").unwrap().into();
        let made = std::rc::Rc::new(std::cell::Cell::new(false));
        let (l2, m2) = (lp.clone(), made.clone());
        let factory = move || {
            m2.set(true);
            Recorder::new(&l2)
        };
        let r = prompt("read null", lp.connect_read_pipe(factory, null)).await;
        assert!(!made.get(), "the protocol was made for an fd that cannot be watched");
        match r {
            Err(Error::Loop(loop_core::Error::InvalidFd { source, .. })) => {
                assert_eq!(source.raw_os_error(), Some(Errno::PERM.raw_os_error()));
            }
            Err(e) => panic!("/dev/null: {e:?}"),
            Ok(_) => panic!("/dev/null: connected"),
        }
    });
}

#[test]
fn server_and_connection_options_at_their_limits() {
    run(|lp| async move {
        // The largest backlog: clamped by the kernel, the server serves.
        let opts = ServerOptions::default().with_backlog(u32::MAX);
        let server =
            prompt("server", lp.create_server(Echo::default, "127.0.0.1", 0, opts)).await.unwrap();
        let port = server.addresses()[0].port().unwrap();
        // Happy Eyeballs with a zero and an unbounded delay, interleaving of
        // usize::MAX: each connects.
        for (delay, interleave) in [
            (Some(Duration::ZERO), Some(usize::MAX)),
            (Some(Duration::MAX), Some(0)),
            (None, Some(usize::MAX)),
        ] {
            let l2 = lp.clone();
            let opts = ConnectOptions::default()
                .with_happy_eyeballs_delay(delay)
                .with_interleave(interleave);
            let (t, _) = prompt(
                "connect",
                lp.create_connection(move || Recorder::new(&l2), "127.0.0.1", port, opts),
            )
            .await
            .unwrap();
            t.close();
        }
        server.close();
        let path = temp_path("backlog.sock");
        let opts = UnixServerOptions::default().with_backlog(u32::MAX);
        let server = prompt(
            "unix server",
            lp.create_unix_server(Echo::default, Some(UnixAddress::path(&path)), opts),
        )
        .await
        .unwrap();
        server.close();
        // A Unix family for a TCP server or connection.
        let opts = ServerOptions::default().with_family(Family::Unix);
        let r = prompt("family", lp.create_server(Echo::default, Hosts::Any, 0, opts)).await;
        invalid("create_server with family Unix", r);
        let l2 = lp.clone();
        let opts = ConnectOptions::default().with_family(Family::Unix);
        let r = prompt(
            "family",
            lp.create_connection(move || Recorder::new(&l2), "127.0.0.1", port, opts),
        )
        .await;
        assert!(
            matches!(r, Err(Error::Resolve { .. } | Error::InvalidArgument(_))),
            "{:?}",
            r.as_ref().err()
        );
        // Port 0 is nobody's.
        let l2 = lp.clone();
        let r = prompt(
            "port 0",
            lp.create_connection(move || Recorder::new(&l2), "127.0.0.1", 0, Default::default()),
        )
        .await;
        errno("port 0", r, &[Errno::CONNREFUSED]);
    });
}

/// A resolver that answers every name with the same addresses, in order.
struct Fixed(Vec<SocketAddr>);

impl Resolver for Fixed {
    fn getaddrinfo(
        &self,
        _lp: &loop_core::Loop,
        _host: Option<String>,
        _port: u16,
        _hints: AddrInfoHints,
    ) -> ResolveFuture {
        let infos = self
            .0
            .iter()
            .map(|&addr| AddrInfo {
                family: if addr.is_ipv4() { Family::Inet } else { Family::Inet6 },
                socktype: SockType::Stream,
                proto: 0,
                canonname: None,
                addr,
            })
            .collect();
        Box::pin(async move { Ok(infos) })
    }
}

/// A listener on 127.0.0.1 whose accept queue is full, so that a new
/// connection attempt to it stays pending (Linux drops its SYNs); with the
/// connections that fill the queue.
fn full_listener() -> (OwnedFd, SocketAddr, Vec<TcpStream>) {
    use rustix::net::{AddressFamily, SocketType, bind, listen, socket};
    let l = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    bind(&l, &"127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
    listen(&l, 0).unwrap();
    let addr = SocketAddr::try_from(rustix::net::getsockname(l.as_fd()).unwrap()).unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => fillers.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return (l, addr, fillers),
            Err(e) => panic!("filling the accept queue: {e}"),
        }
    }
    panic!("connections to a listen(0) socket never stay pending here");
}

/// A Happy Eyeballs delay past the end of the clock is a delay that never
/// ends: the next address waits for the first attempt to fail. (`sleep`
/// of such a delay fails at once, which used to count as "the delay is
/// over" and started the next attempt immediately.)
#[test]
fn a_happy_eyeballs_delay_past_the_end_of_the_clock_never_starts_the_next_attempt() {
    run(|lp| async move {
        let (_hang, hang_addr, _fillers) = full_listener();
        let good = TcpListener::bind("127.0.0.1:0").unwrap();
        lp.set_resolver(Some(Rc::new(Fixed(vec![hang_addr, good.local_addr().unwrap()]))));
        let l2 = lp.clone();
        let opts = ConnectOptions::default().with_happy_eyeballs_delay(Some(Duration::MAX));
        let attempt = lp.create_connection(move || Recorder::new(&l2), "two.test", 1, opts);
        let r = loop_core::timeout(Duration::from_millis(500), attempt).await;
        assert!(
            matches!(r, Err(loop_core::Error::TimedOut { .. })),
            "the second address was tried: {:?}",
            r.map(|c| c.map(|(t, _)| t.peername()))
        );
        lp.set_resolver(None);
    });
}

#[test]
fn names_with_nul_bytes_or_out_of_range_hints() {
    run(|lp| async move {
        let nul = "127.0.0.1\0.evil.example";
        let r =
            prompt("getaddrinfo", lp.getaddrinfo(Some(nul), 80, AddrInfoHints::default())).await;
        invalid("getaddrinfo with a NUL", r);
        let l2 = lp.clone();
        let r = prompt(
            "connect",
            lp.create_connection(move || Recorder::new(&l2), nul, 80, Default::default()),
        )
        .await;
        invalid("create_connection with a NUL", r);
        let r = prompt("server", lp.create_server(Echo::default, nul, 0, Default::default())).await;
        invalid("create_server with a NUL", r);
        let opts = DatagramOptions::default().with_remote_addr(Some(Endpoint::inet(nul, 9)));
        let r = prompt("datagram", lp.create_datagram_endpoint(Dg::default, opts)).await;
        invalid("create_datagram_endpoint with a NUL", r);
        // Hints the resolver refuses: typed resolver errors.
        let bad = AddrInfoHints { flags: -1, ..Default::default() };
        let r = prompt("flags", lp.getaddrinfo(Some("localhost"), 80, bad)).await;
        assert!(matches!(r, Err(Error::Resolve { .. })), "{r:?}");
        let long = "a".repeat(4096);
        let r = prompt("long", lp.getaddrinfo(Some(&long), 80, AddrInfoHints::default())).await;
        assert!(matches!(r, Err(Error::Resolve { .. })), "{r:?}");
        let r = prompt("nameinfo", lp.getnameinfo("127.0.0.1:80".parse().unwrap(), -1)).await;
        assert!(r.is_err(), "{r:?}");
    });
}

#[test]
fn write_buffer_limits_at_the_ends_of_usize() {
    run(|lp| async move {
        let (a, _b) = UnixStream::pair().unwrap();
        let l2 = lp.clone();
        let (t, _) =
            lp.connect_accepted_socket(move || Recorder::new(&l2), a.into()).await.unwrap();
        // Only a low mark of usize::MAX: the high one saturates, no overflow.
        t.set_write_buffer_limits(None, Some(usize::MAX)).unwrap();
        let l = t.get_write_buffer_limits();
        assert_eq!((l.low, l.high), (usize::MAX, usize::MAX));
        invalid("inverted", t.set_write_buffer_limits(Some(0), Some(usize::MAX)));
        t.write(b"still writes").unwrap();
        t.close();
    });
}

#[test]
fn datagram_endpoint_option_combinations_that_cannot_work() {
    run(|lp| async move {
        // Local IPv4, remote IPv6: no family in common.
        let opts = DatagramOptions::default()
            .with_local_addr(Some(Endpoint::inet("127.0.0.1", 0)))
            .with_remote_addr(Some(Endpoint::inet("::1", 9)));
        let m =
            invalid("v4 + v6", prompt("dg", lp.create_datagram_endpoint(Dg::default, opts)).await);
        assert!(m.contains("family"), "{m}");
        // A family the address does not have.
        let opts = DatagramOptions::default()
            .with_family(Family::Inet6)
            .with_local_addr(Some(Endpoint::inet("127.0.0.1", 0)));
        let r = prompt("dg", lp.create_datagram_endpoint(Dg::default, opts)).await;
        assert!(matches!(r, Err(Error::Resolve { .. })), "{:?}", r.as_ref().err());
        // A local port already taken: the bind's errno, per address.
        let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let opts =
            DatagramOptions::default().with_local_addr(Some(Endpoint::inet("127.0.0.1", port)));
        let r = prompt("dg", lp.create_datagram_endpoint(Dg::default, opts)).await;
        assert!(matches!(r, Err(Error::Connect(_))), "{:?}", r.as_ref().err());
        errno("taken port", r, &[Errno::ADDRINUSE]);
        // A Unix endpoint bound where a regular file is: never replaced.
        let file = temp_path("dg-file");
        std::fs::write(&file, b"keep").unwrap();
        let opts = DatagramOptions::default()
            .with_local_addr(Some(Endpoint::Unix(UnixAddress::path(&file))));
        let m = invalid("file", prompt("dg", lp.create_datagram_endpoint(Dg::default, opts)).await);
        assert!(m.contains("not a socket"), "{m}");
        assert_eq!(std::fs::read(&file).unwrap(), b"keep");
        std::fs::remove_file(&file).unwrap();
        // A Unix remote nobody listens on: the connect's errno.
        let opts = DatagramOptions::default()
            .with_remote_addr(Some(Endpoint::Unix(UnixAddress::path(temp_path("nobody")))));
        let r = prompt("dg", lp.create_datagram_endpoint(Dg::default, opts)).await;
        errno("nobody", r, &[Errno::NOENT]);
        // A stream socket where a datagram one is needed.
        let (s, _) = UnixStream::pair().unwrap();
        let opts = DatagramOptions::default().with_sock(Some(s.into()));
        invalid("stream sock", prompt("dg", lp.create_datagram_endpoint(Dg::default, opts)).await);
    });
}

/// A datagram protocol that ignores everything.
#[derive(Default)]
struct Dg;

impl loop_transports::BaseProtocol<dyn loop_transports::DatagramTransport> for Dg {}
impl loop_transports::DatagramProtocol for Dg {}
