//! futures-io interop (ST-04): the reader is `AsyncRead` + `AsyncBufRead`,
//! the writer `AsyncWrite`, proven with futures-lite's io helpers
//! (`lines`, `read_line`, `copy`, `read_to_end`, `write_all`, `close`).
//! The inherent `read` and `close` take precedence over the extension
//! traits' methods of the same name, hence the qualified calls.

mod util;

use std::io::ErrorKind;
use std::pin::pin;

use futures_lite::StreamExt;
use futures_lite::future::block_on;
use futures_lite::io::{self, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use loop_streams::{
    Error, StreamConnectOptions, StreamReader, StreamWriter, open_connection, start_server,
};
use util::{Poller, run, within};

#[test]
fn lines_and_read_line_work_on_a_hand_fed_reader() {
    let r = StreamReader::new();
    r.feed_data(b"alpha\nbeta\r\ngam").unwrap();
    r.feed_data(b"ma").unwrap();
    r.feed_eof();
    let lines: Vec<String> = block_on(r.lines().map(|l| l.unwrap()).collect::<Vec<_>>());
    assert_eq!(lines, ["alpha", "beta", "gamma"]);

    let mut r = StreamReader::new();
    r.feed_data(b"key=value;rest").unwrap();
    r.feed_eof();
    let mut buf = Vec::new();
    block_on(r.read_until(b';', &mut buf)).unwrap();
    assert_eq!(buf, b"key=value;");
    let mut tail = String::new();
    block_on(r.read_line(&mut tail)).unwrap();
    assert_eq!(tail, "rest");
}

#[test]
fn fill_buf_lends_the_buffer_and_consume_takes_from_it() {
    let mut r = StreamReader::new();
    r.feed_data(b"abcdef").unwrap();
    let got = block_on(r.fill_buf()).unwrap().to_vec();
    assert_eq!(got, b"abcdef");
    std::pin::Pin::new(&mut r).consume(4);
    r.feed_eof();
    assert_eq!(block_on(r.read_to_eof()).unwrap(), b"ef");
}

#[test]
fn async_read_maps_reader_errors_to_io_errors() {
    let mut r = StreamReader::new();
    r.feed_data(b"x").unwrap();
    r.set_exception(Error::ConnectionLost);
    let mut buf = [0u8; 4];
    let e = block_on(AsyncReadExt::read(&mut r, &mut buf)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    let inner = e.get_ref().unwrap().downcast_ref::<Error>().unwrap();
    assert!(matches!(inner, Error::ConnectionLost), "the stream error is kept as the source");

    let busy: std::io::Error = Error::ConcurrentRead { method: "read" }.into();
    assert_eq!(busy.kind(), ErrorKind::ResourceBusy);
    let eof: std::io::Error = Error::IncompleteRead { partial: vec![], expected: Some(1) }.into();
    assert_eq!(eof.kind(), ErrorKind::UnexpectedEof);
    let closed: std::io::Error = Error::Transport(loop_transports::Error::Closed).into();
    assert_eq!(closed.kind(), ErrorKind::BrokenPipe);
}

#[test]
fn an_abandoned_poll_read_never_blocks_a_later_read() {
    let mut r = StreamReader::new();
    let p = Poller::new();
    {
        let mut buf = [0u8; 8];
        let mut abandoned = pin!(AsyncReadExt::read(&mut r, &mut buf));
        assert!(p.poll(abandoned.as_mut()).is_pending());
    }
    let mut line = pin!(r.readline());
    assert!(p.poll(line.as_mut()).is_pending(), "not a ConcurrentRead");
    r.feed_data(b"ok\n").unwrap();
    assert!(matches!(p.poll(line.as_mut()), std::task::Poll::Ready(Ok(l)) if l == b"ok\n"));
}

#[test]
fn io_copy_echoes_and_write_all_is_paced_by_flow_control() {
    run(|lp| async move {
        let server = start_server(
            |mut r: StreamReader, mut w: StreamWriter| async move {
                io::copy(&mut r, &mut w).await?;
                AsyncWriteExt::close(&mut w).await?;
                Ok::<(), std::io::Error>(())
            },
            "127.0.0.1",
            0,
            Default::default(),
        )
        .await
        .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let (mut r, mut w) =
            open_connection("127.0.0.1", port, StreamConnectOptions::default()).await.unwrap();
        let payload: Vec<u8> = (0..8_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let reading = lp
            .create_task(async move {
                let mut back = Vec::new();
                r.read_to_end(&mut back).await.map(|_| back)
            })
            .unwrap();
        let p2 = payload.clone();
        let writing = lp
            .create_task(async move {
                let mut max_buffered = 0;
                for chunk in p2.chunks(100_000) {
                    w.write_all(chunk).await?;
                    max_buffered = max_buffered.max(w.transport().get_write_buffer_size());
                }
                w.flush().await?;
                w.write_eof().map_err(std::io::Error::from)?;
                Ok::<_, std::io::Error>((w, max_buffered))
            })
            .unwrap();
        let (mut w, max_buffered) = within("writer", writing).await.unwrap().unwrap();
        // poll_write waits while writing is paused: the transport never
        // holds much more than the high-water mark plus one chunk.
        assert!(max_buffered < 64 * 1024 + 2 * 100_000, "buffered {max_buffered}");
        let back = within("reader", reading).await.unwrap().unwrap();
        assert_eq!(back.len(), payload.len());
        assert!(back == payload);
        AsyncWriteExt::close(&mut w).await.unwrap();
        assert!(w.is_closing());
        server.close();
        within("server closed", server.wait_closed()).await;
    });
}

#[test]
fn lines_over_a_real_connection() {
    run(|_lp| async move {
        let server = start_server(
            |_r, w: StreamWriter| {
                w.writelines(&[b"one\n", b"two\n", b"three\n"]).unwrap();
            },
            "127.0.0.1",
            0,
            Default::default(),
        )
        .await
        .unwrap();
        let port = server.addresses()[0].port().unwrap();
        let (r, _w) = open_connection("127.0.0.1", port, Default::default()).await.unwrap();
        let lines: Vec<String> =
            within("lines", r.lines().map(|l| l.unwrap()).collect::<Vec<_>>()).await;
        assert_eq!(lines, ["one", "two", "three"]);
        server.close();
    });
}
