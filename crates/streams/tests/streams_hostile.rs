//! Hostile input to the stream API (issue 13, "Bad input"): buffer limits
//! of 1 and near `usize::MAX`, reads of `usize::MAX` bytes, separators
//! longer than the limit, and `start_tls` misuse. Each gets a typed error
//! or a defined outcome, promptly — never a panic, an overflow, a hang or
//! a leaked fd (`util::run` checks the fds). A limit of 0 and empty
//! separators are pinned in `streams_tcp.rs`, `streams_unix.rs` and
//! `streams_reader.rs`.

mod util;

use std::rc::Rc;

use futures_lite::future::block_on;
use loop_streams::{
    Error, StreamConnectOptions, StreamReader, StreamServerOptions, StreamWriter, open_connection,
    start_server,
};
use util::fake::Fake;
use util::tls::{Pki, Ver};
use util::{run, within};

fn reader_on_fake(limit: usize) -> (StreamReader, Rc<Fake>) {
    let r = StreamReader::with_limit(limit).unwrap();
    let (fake, t) = Fake::new();
    r.set_transport(t).unwrap();
    (r, fake)
}

/// Limits at and above half of `usize::MAX`: the pause threshold
/// (2 × limit) must not overflow — in a debug build that was a panic in
/// the protocol's `data_received`, in a release build a wrapped threshold
/// that paused the transport after every byte.
#[test]
fn limits_near_usize_max_never_overflow_the_pause_threshold() {
    for limit in [usize::MAX / 2 + 1, usize::MAX - 1, usize::MAX] {
        let (r, fake) = reader_on_fake(limit);
        assert_eq!(r.limit(), limit);
        r.feed_data(b"first line\nsecond").unwrap();
        assert!(fake.log().is_empty(), "limit {limit}: paused after 17 bytes");
        assert_eq!(block_on(r.readline()).unwrap(), b"first line\n");
        assert_eq!(block_on(r.readuntil(b"nd")).unwrap(), b"second");
        r.feed_eof();
        assert!(block_on(r.read(usize::MAX)).unwrap().is_empty());
        assert!(r.at_eof());
    }
}

#[test]
fn a_limit_of_one_byte_refuses_longer_lines_and_chunks() {
    let (r, _fake) = reader_on_fake(1);
    r.feed_data(b"ab\ncd;e").unwrap();
    let e = block_on(r.readline()).unwrap_err();
    assert!(matches!(e, Error::LineTooLong { discarded: 3 }), "{e:?}");
    let e = block_on(r.readuntil(b";")).unwrap_err();
    assert!(matches!(e, Error::LimitOverrun { .. }), "{e:?}");
    // The data stayed; reads that the limit does not bound still work.
    assert_eq!(block_on(r.read(usize::MAX)).unwrap(), b"cd;e");
}

#[test]
fn reads_of_usize_max_bytes_allocate_nothing_up_front() {
    let r = StreamReader::new();
    r.feed_data(b"partial").unwrap();
    r.feed_eof();
    match block_on(r.readexactly(usize::MAX)) {
        Err(Error::IncompleteRead { partial, expected }) => {
            assert_eq!(partial, b"partial");
            assert_eq!(expected, Some(usize::MAX));
        }
        other => panic!("{other:?}"),
    }
    let r = StreamReader::new();
    r.feed_data(b"some bytes").unwrap();
    assert_eq!(block_on(r.read(usize::MAX)).unwrap(), b"some bytes");
}

#[test]
fn separators_longer_than_the_limit() {
    let sep: &[u8] = b"--boundary--";
    let (r, _fake) = reader_on_fake(4);
    // A separator right at the start is within the limit, whatever its length.
    r.feed_data(b"--boundary--tail!").unwrap();
    assert_eq!(block_on(r.readuntil(sep)).unwrap(), sep);
    // Starting past the limit: an overrun, the data kept.
    r.feed_data(b"--boundary--").unwrap();
    let e = block_on(r.readuntil(sep)).unwrap_err();
    assert!(matches!(e, Error::LimitOverrun { .. }), "{e:?}");
    assert_eq!(block_on(r.readexactly(5)).unwrap(), b"tail!");
    assert_eq!(block_on(r.readuntil(sep)).unwrap(), sep);
    // With NUL bytes and duplicates among several separators.
    r.feed_data(b"x\0\0y").unwrap();
    assert_eq!(block_on(r.readuntil_any(&[b"\0\0", b"\0\0", b"\0"])).unwrap(), b"x\0");
}

async fn echo(reader: StreamReader, writer: StreamWriter) -> loop_streams::Result<()> {
    loop {
        let data = reader.read(64 * 1024).await?;
        if data.is_empty() {
            writer.close();
            return Ok(());
        }
        writer.write(&data)?;
        writer.drain().await?;
    }
}

#[test]
fn a_connection_with_a_usize_max_limit_on_both_ends_carries_data() {
    run(|_lp| async move {
        let opts = StreamServerOptions::default().with_limit(usize::MAX);
        let server = start_server(echo, "127.0.0.1", 0, opts).await.unwrap();
        let port = server.addresses()[0].port().unwrap();
        let opts = StreamConnectOptions::default().with_limit(usize::MAX);
        let (r, w) = within("connect", open_connection("127.0.0.1", port, opts)).await.unwrap();
        let payload = vec![b'z'; 256 * 1024];
        w.write(&payload).unwrap();
        w.write(b"\n").unwrap();
        let line = within("echo", r.readline()).await.unwrap();
        assert_eq!(line.len(), payload.len() + 1);
        w.close();
        server.close();
        within("server closed", server.wait_closed()).await;
    });
}

#[test]
fn start_tls_misuse_is_typed_and_leaves_the_connection_usable() {
    run(|_lp| async move {
        let pki = Pki::localhost();
        let server = start_server(echo, "127.0.0.1", 0, Default::default()).await.unwrap();
        let port = server.addresses()[0].port().unwrap();
        let (r, w) = within("connect", open_connection("127.0.0.1", port, Default::default()))
            .await
            .unwrap();
        // A client without a server name (a stream has no host to check
        // against): refused before anything is sent.
        let e = within("start_tls", w.start_tls(pki.client(Ver::Both))).await.unwrap_err();
        assert!(matches!(e, Error::Transport(loop_transports::Error::InvalidArgument(_))), "{e:?}");
        // The plain connection is untouched.
        w.write(b"still plain\n").unwrap();
        assert_eq!(within("echo", r.readline()).await.unwrap(), b"still plain\n");
        // After close: Closed, at once.
        w.close();
        let e =
            within("start_tls", w.start_tls(pki.client(Ver::Both).server_hostname("localhost")))
                .await
                .unwrap_err();
        // `drain` runs first and reports the closed connection, as
        // asyncio's drain does (ConnectionResetError).
        assert!(matches!(&e, Error::ConnectionLost), "{e:?}");
        within("wait_closed", w.wait_closed()).await.unwrap();
        drop(r);
        server.close();
        within("server closed", server.wait_closed()).await;
    });
}
