//! loop-streams' errors through the facade: `?` turns them into
//! `tulip::Error` (the stream variant stays matchable, transport and loop
//! errors are normalised), `kind()` names asyncio's exception, and a
//! `start_server` callback may use `?` on `tulip::Error`.

use tulip::prelude::*;
use tulip::streams::{StreamReader, StreamWriter};

#[test]
fn stream_errors_convert_with_question_mark_and_keep_their_variant() {
    let out: tulip::Result<Vec<ErrorKind>> = tulip::run(async {
        let mut kinds = Vec::new();
        let r = StreamReader::with_limit(4)?;
        r.feed_data(b"abcdefgh")?;
        let overrun: tulip::Result<Vec<u8>> = async { Ok(r.readuntil(b"\n").await?) }.await;
        let err = overrun.unwrap_err();
        assert!(
            matches!(err, Error::Streams(tulip::streams::Error::LimitOverrun { consumed: 8 })),
            "{err:?}"
        );
        kinds.push(err.kind());
        r.feed_eof();
        let short: tulip::Result<Vec<u8>> = async { Ok(r.readexactly(100).await?) }.await;
        match short.unwrap_err() {
            e @ Error::Streams(tulip::streams::Error::IncompleteRead { .. }) => {
                kinds.push(e.kind());
            }
            e => panic!("{e:?}"),
        }
        let bad: tulip::Result<StreamReader> = async { Ok(StreamReader::with_limit(0)?) }.await;
        kinds.push(bad.unwrap_err().kind());
        // A transport error inside a stream error is normalised.
        let closed = Error::from(tulip::streams::Error::Transport(TransportError::Closed));
        assert!(matches!(closed, Error::Transport(TransportError::Closed)));
        kinds.push(closed.kind());
        Ok(kinds)
    })
    .and_then(|r| r);
    assert_eq!(
        out.unwrap(),
        [
            ErrorKind::LimitOverrun,
            ErrorKind::IncompleteRead,
            ErrorKind::InvalidArgument,
            ErrorKind::Closed
        ]
    );
}

#[test]
fn a_stream_error_through_a_loop_future_comes_back_as_itself() {
    let lp = Loop::new().unwrap();
    let fut = lp.create_future::<()>();
    let original =
        tulip::streams::Error::IncompleteRead { partial: b"ab".to_vec(), expected: Some(3) };
    fut.set_exception(original.into()).unwrap();
    let back = Error::from(fut.result().unwrap_err());
    assert!(
        matches!(&back, Error::Streams(tulip::streams::Error::IncompleteRead { partial, expected: Some(3) }) if partial == b"ab"),
        "{back:?}"
    );
    lp.close().unwrap();
}

#[test]
fn a_server_callback_may_use_question_mark_on_tulip_errors() {
    let out: tulip::Result<Vec<u8>> = tulip::run(async {
        let server = start_server(
            |r: StreamReader, w: StreamWriter| async move {
                // `sleep` fails with the loop's error, `readline` with the
                // streams' one: both convert into the callback's type.
                sleep(std::time::Duration::from_millis(1)).await?;
                let line = r.readline().await?;
                w.write(&line)?;
                w.close();
                Ok::<(), Error>(())
            },
            "127.0.0.1",
            0,
            Default::default(),
        )
        .await?;
        let port = server.addresses()[0].port().unwrap_or_default();
        let (r, w) = open_connection("127.0.0.1", port, Default::default()).await?;
        w.write(b"ping\n")?;
        let reply = r.read_to_eof().await?;
        server.close();
        Ok(reply)
    })
    .and_then(|r| r);
    assert_eq!(out.unwrap(), b"ping\n");
}
