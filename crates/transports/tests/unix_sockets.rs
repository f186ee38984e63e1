//! Unix stream sockets (TR-06) and `connect_accepted_socket` (TR-07).

mod util;

use std::os::unix::net::{UnixListener, UnixStream};

use loop_transports::{Address, Error, NetExt, UnixAddress, UnixServerOptions};
use util::{Echo, Recorder, run, wait_until, within};

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tulip-{}-{name}", std::process::id()))
}

async fn roundtrip(lp: &loop_core::Loop, addr: UnixAddress) {
    let l2 = lp.clone();
    let (t, c) =
        lp.create_unix_connection(move || Recorder::new(&l2), Some(addr), None).await.unwrap();
    t.write(b"unix").unwrap();
    wait_until("echo", || Recorder::data(&c.borrow().log) == b"unix").await;
    t.close();
    let lost = c.borrow().lost.clone();
    within("lost", lost).await;
}

#[test]
fn path_server_removes_a_stale_socket_and_its_own_file() {
    run(|lp| async move {
        let path = temp_path("stale.sock");
        let _ = std::fs::remove_file(&path);
        // A stale socket file from a dead server.
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let server = lp
            .create_unix_server(
                Echo::default,
                Some(UnixAddress::path(&path)),
                UnixServerOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(server.addresses(), vec![Address::Unix(UnixAddress::path(&path))]);
        roundtrip(&lp, UnixAddress::path(&path)).await;
        server.close();
        assert!(!path.exists(), "the server removes its socket file");
    });
}

#[test]
fn never_removes_a_file_that_is_not_a_socket() {
    run(|lp| async move {
        let path = temp_path("regular-file");
        std::fs::write(&path, b"precious").unwrap();
        let err = lp
            .create_unix_server(
                Echo::default,
                Some(UnixAddress::path(&path)),
                UnixServerOptions::default(),
            )
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn abstract_namespace_and_existing_sockets() {
    run(|lp| async move {
        let name = format!("tulip-test-{}", std::process::id());
        let server = lp
            .create_unix_server(
                Echo::default,
                Some(UnixAddress::abstract_name(&name)),
                UnixServerOptions::default(),
            )
            .await
            .unwrap();
        roundtrip(&lp, UnixAddress::parse(format!("\0{name}"))).await;
        server.close();

        // An existing listening socket, and an existing connected socket.
        let path = temp_path("existing.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let server = lp
            .create_unix_server(
                Echo::default,
                None,
                UnixServerOptions::default().with_sock(Some(listener.into())),
            )
            .await
            .unwrap();
        let stream = UnixStream::connect(&path).unwrap();
        let l2 = lp.clone();
        let (t, c) = lp
            .create_unix_connection(move || Recorder::new(&l2), None, Some(stream.into()))
            .await
            .unwrap();
        t.write(b"existing").unwrap();
        wait_until("echo", || Recorder::data(&c.borrow().log) == b"existing").await;
        t.close();
        server.close();
        assert!(!path.exists(), "the server removed its socket file");

        // Connecting to nothing is an error naming the path.
        let l2 = lp.clone();
        let missing = temp_path("missing.sock");
        let err = lp
            .create_unix_connection(
                move || Recorder::new(&l2),
                Some(UnixAddress::path(&missing)),
                None,
            )
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("missing.sock"), "{err}");
        let l2 = lp.clone();
        let err =
            lp.create_unix_connection(move || Recorder::new(&l2), None, None).await.err().unwrap();
        assert!(matches!(err, Error::InvalidArgument(_)));
    });
}

#[test]
fn connect_accepted_socket_wraps_a_socket_accepted_elsewhere() {
    run(|lp| async move {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"hello").unwrap();
            let mut back = [0u8; 5];
            s.read_exact(&mut back).unwrap();
            back
        });
        let (accepted, _) = lp.run_in_executor(move || listener.accept().unwrap()).await.unwrap();
        let (t, _echo) = lp.connect_accepted_socket(Echo::default, accepted.into()).await.unwrap();
        let back = lp.run_in_executor(move || client.join().unwrap()).await.unwrap();
        assert_eq!(&back, b"hello");
        assert_eq!(t.peername().unwrap().as_inet().unwrap().ip(), addr.ip());
        t.close();
    });
}

/// A Unix server on an existing socket bound to `path`.
async fn server_on_bound_socket(
    lp: &loop_core::Loop,
    path: &std::path::Path,
    cleanup_socket: bool,
) -> loop_transports::Server {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).unwrap();
    let opts = UnixServerOptions::default()
        .with_sock(Some(listener.into()))
        .with_cleanup_socket(cleanup_socket);
    lp.create_unix_server(Echo::default, None, opts).await.unwrap()
}

/// asyncio 3.13: a server started from an existing bound socket removes
/// the socket file on close too (`cleanup_socket`, default on).
#[test]
fn a_server_on_an_existing_socket_removes_its_file_on_close() {
    run(|lp| async move {
        let path = temp_path("bound-elsewhere.sock");
        let server = server_on_bound_socket(&lp, &path, true).await;
        roundtrip(&lp, UnixAddress::path(&path)).await;
        assert!(path.exists());
        server.close();
        assert!(!path.exists(), "the socket file is removed on close");
    });
}

#[test]
fn cleanup_socket_false_leaves_the_file() {
    run(|lp| async move {
        let path = temp_path("kept-bound.sock");
        let server = server_on_bound_socket(&lp, &path, false).await;
        server.close();
        assert!(path.exists(), "cleanup_socket: false keeps the file");
        std::fs::remove_file(&path).unwrap();
        let path = temp_path("kept-path.sock");
        let _ = std::fs::remove_file(&path);
        let opts = UnixServerOptions::default().with_cleanup_socket(false);
        let server = lp
            .create_unix_server(Echo::default, Some(UnixAddress::path(&path)), opts)
            .await
            .unwrap();
        server.close();
        assert!(path.exists(), "cleanup_socket: false keeps the file");
        std::fs::remove_file(&path).unwrap();
    });
}

/// The file at the path is no longer the server's socket (replaced by a
/// regular file, or by another server's socket): close leaves it alone.
#[test]
fn close_never_removes_a_path_that_is_no_longer_its_socket() {
    run(|lp| async move {
        let path = temp_path("replaced.sock");
        let server = server_on_bound_socket(&lp, &path, true).await;
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"precious").unwrap();
        server.close();
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        std::fs::remove_file(&path).unwrap();

        let server = server_on_bound_socket(&lp, &path, true).await;
        std::fs::remove_file(&path).unwrap();
        let other = UnixListener::bind(&path).unwrap();
        server.close();
        assert!(path.exists(), "another socket at the path stays");
        drop(other);
        std::fs::remove_file(&path).unwrap();
    });
}
