//! StreamReader semantics (ST-02), driven by hand with feed_data /
//! feed_eof / set_exception. Every expectation was checked against Python
//! 3.13's asyncio.StreamReader (the asyncio snippet is quoted where the
//! behaviour is surprising).

mod util;

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::Poll;

use futures_lite::future::block_on;
use loop_streams::{DEFAULT_LIMIT, Error, Result, StreamReader};
use util::Poller;

fn fed(limit: usize, data: &[u8], eof: bool) -> StreamReader {
    let r = StreamReader::with_limit(limit).unwrap();
    r.feed_data(data).unwrap();
    if eof {
        r.feed_eof();
    }
    r
}

/// Polls once; the bytes of a completed, successful read.
fn ready<F: Future<Output = Result<Vec<u8>>>>(p: &Poller, f: Pin<&mut F>) -> Vec<u8> {
    match p.poll(f) {
        Poll::Ready(Ok(v)) => v,
        Poll::Ready(Err(e)) => panic!("read failed: {e}"),
        Poll::Pending => panic!("read still pending"),
    }
}

/// Polls once; the error of a completed, failed read.
fn failed<F: Future<Output = Result<Vec<u8>>>>(p: &Poller, f: Pin<&mut F>) -> Error {
    match p.poll(f) {
        Poll::Ready(Ok(v)) => panic!("read succeeded with {v:?}"),
        Poll::Ready(Err(e)) => e,
        Poll::Pending => panic!("read still pending"),
    }
}

#[test]
fn default_limit_is_64_kib_and_a_zero_limit_is_invalid() {
    assert_eq!(StreamReader::new().limit(), 64 * 1024);
    assert_eq!(DEFAULT_LIMIT, 65536);
    assert!(matches!(StreamReader::with_limit(0), Err(Error::InvalidArgument(_))));
}

#[test]
fn read_returns_what_is_buffered_up_to_n() {
    let r = fed(DEFAULT_LIMIT, b"hello world", false);
    block_on(async {
        assert_eq!(r.read(5).await.unwrap(), b"hello");
        assert_eq!(r.read(100).await.unwrap(), b" world");
    });
}

#[test]
fn read_waits_for_data_then_returns_at_most_n() {
    let r = StreamReader::new();
    let p = Poller::new();
    let mut f = pin!(r.read(3));
    assert!(p.poll(f.as_mut()).is_pending());
    r.feed_data(b"abcdef").unwrap();
    assert_eq!(p.wakes(), 1, "feed_data wakes the waiting read");
    assert_eq!(ready(&p, f.as_mut()), b"abc");
    assert_eq!(block_on(r.read(10)).unwrap(), b"def");
}

#[test]
fn read_zero_returns_at_once_and_read_at_eof_is_empty() {
    let r = StreamReader::new();
    // Nothing buffered and no EOF: read(0) still completes at once.
    assert_eq!(block_on(r.read(0)).unwrap(), b"");
    r.feed_eof();
    assert_eq!(block_on(r.read(5)).unwrap(), b"");
    assert_eq!(block_on(r.read_to_eof()).unwrap(), b"");
    assert_eq!(block_on(r.readline()).unwrap(), b"");
}

#[test]
fn read_waiting_at_eof_is_woken_and_returns_empty() {
    let r = StreamReader::new();
    let p = Poller::new();
    let mut f = pin!(r.read(3));
    assert!(p.poll(f.as_mut()).is_pending());
    r.feed_eof();
    assert_eq!(p.wakes(), 1);
    assert_eq!(ready(&p, f.as_mut()), b"");
}

#[test]
fn read_to_eof_gathers_every_chunk() {
    let r = StreamReader::with_limit(4).unwrap();
    let p = Poller::new();
    let mut f = pin!(r.read_to_eof());
    for chunk in [&b"abc"[..], b"defgh", b"ij"] {
        assert!(p.poll(f.as_mut()).is_pending());
        r.feed_data(chunk).unwrap();
    }
    assert!(p.poll(f.as_mut()).is_pending());
    r.feed_eof();
    assert_eq!(ready(&p, f.as_mut()), b"abcdefghij");
    assert!(r.at_eof());
}

#[test]
fn readline_returns_lines_with_their_newline_then_the_tail_at_eof() {
    let r = fed(DEFAULT_LIMIT, b"one\ntwo\nthree", true);
    block_on(async {
        assert_eq!(r.readline().await.unwrap(), b"one\n");
        assert_eq!(r.readline().await.unwrap(), b"two\n");
        assert_eq!(r.readline().await.unwrap(), b"three");
        assert_eq!(r.readline().await.unwrap(), b"");
        assert!(r.at_eof());
    });
}

#[test]
fn readline_waits_across_chunks() {
    let r = StreamReader::new();
    let p = Poller::new();
    let mut f = pin!(r.readline());
    assert!(p.poll(f.as_mut()).is_pending());
    r.feed_data(b"hel").unwrap();
    assert!(p.poll(f.as_mut()).is_pending());
    r.feed_data(b"lo\nwor").unwrap();
    assert_eq!(ready(&p, f.as_mut()), b"hello\n");
    r.feed_data(b"ld\n").unwrap();
    assert_eq!(block_on(r.readline()).unwrap(), b"world\n");
}

#[test]
fn readline_over_the_limit_with_its_newline_buffered_drops_exactly_that_line() {
    // asyncio (limit=4): feed b"abcdefg\nxy\n"; readline() → ValueError
    // "Separator is found, but chunk is longer than limit"; buffer b"xy\n".
    let r = fed(4, b"abcdefg\nxy\n", false);
    block_on(async {
        let e = r.readline().await.unwrap_err();
        assert!(matches!(e, Error::LineTooLong { discarded: 8 }), "{e:?}");
        assert_eq!(r.readline().await.unwrap(), b"xy\n");
    });
}

#[test]
fn readline_over_the_limit_without_a_newline_drops_the_buffer_and_the_tail_comes_back() {
    // asyncio (limit=4): feed b"abcdefg"; readline() → ValueError "Separator
    // is not found, and chunk exceed the limit", buffer b"". Then feed
    // b"hi\nok\n" + EOF: readline() → b"hi\n", b"ok\n", b"".
    let r = fed(4, b"abcdefg", false);
    block_on(async {
        let e = r.readline().await.unwrap_err();
        assert!(matches!(e, Error::LineTooLong { discarded: 7 }), "{e:?}");
        r.feed_data(b"hi\nok\n").unwrap();
        r.feed_eof();
        assert_eq!(r.readline().await.unwrap(), b"hi\n");
        assert_eq!(r.readline().await.unwrap(), b"ok\n");
        assert_eq!(r.readline().await.unwrap(), b"");
    });
}

#[test]
fn readline_at_the_limit_is_accepted_and_over_it_at_eof_is_too_long() {
    // limit=3: b"abc\n" is a line; b"abcd" + EOF → ValueError, buffer b"".
    block_on(async {
        assert_eq!(fed(3, b"abc\n", false).readline().await.unwrap(), b"abc\n");
        let r = fed(3, b"abcd", true);
        assert!(matches!(r.readline().await, Err(Error::LineTooLong { discarded: 4 })));
        assert!(r.at_eof());
    });
}

#[test]
fn readexactly_waits_for_n_bytes_across_chunks() {
    let r = StreamReader::new();
    let p = Poller::new();
    let mut f = pin!(r.readexactly(5));
    assert!(p.poll(f.as_mut()).is_pending());
    r.feed_data(b"ab").unwrap();
    assert!(p.poll(f.as_mut()).is_pending());
    r.feed_data(b"cdefg").unwrap();
    assert_eq!(ready(&p, f.as_mut()), b"abcde");
    assert_eq!(block_on(r.read(10)).unwrap(), b"fg");
}

#[test]
fn readexactly_on_early_eof_is_incomplete_read_carrying_the_partial_bytes() {
    // asyncio: feed b"ab", EOF; readexactly(3) → IncompleteReadError
    // partial=b"ab" expected=3; then readexactly(0) → b"", at_eof() True.
    let r = fed(DEFAULT_LIMIT, b"ab", true);
    block_on(async {
        match r.readexactly(3).await {
            Err(Error::IncompleteRead { partial, expected }) => {
                assert_eq!(partial, b"ab");
                assert_eq!(expected, Some(3));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.readexactly(0).await.unwrap(), b"");
        assert!(r.at_eof());
    });
    let e = Error::IncompleteRead { partial: b"ab".to_vec(), expected: Some(3) };
    assert_eq!(e.to_string(), "2 bytes read on a total of 3 expected bytes");
}

#[test]
fn readexactly_is_not_bounded_by_the_limit() {
    let r = fed(2, b"0123456789", false);
    assert_eq!(block_on(r.readexactly(10)).unwrap(), b"0123456789");
}

#[test]
fn readuntil_returns_the_chunk_with_its_separator_even_split_across_chunks() {
    let r = StreamReader::new();
    let p = Poller::new();
    let mut f = pin!(r.readuntil(b"\r\n"));
    r.feed_data(b"GET / HTTP/1.1\r").unwrap();
    assert!(p.poll(f.as_mut()).is_pending());
    r.feed_data(b"\nHost").unwrap();
    assert_eq!(ready(&p, f.as_mut()), b"GET / HTTP/1.1\r\n");
}

#[test]
fn readuntil_with_several_separators_takes_the_shortest_chunk() {
    // asyncio 3.13: b"aaXYbbZ" → readuntil((b"Z", b"XY")) → b"aaXY", b"bbZ";
    // b"abcd" → readuntil((b"cd", b"bcd", b"d")) → b"abcd".
    block_on(async {
        let r = fed(DEFAULT_LIMIT, b"aaXYbbZ", true);
        assert_eq!(r.readuntil_any(&[b"Z", b"XY"]).await.unwrap(), b"aaXY");
        assert_eq!(r.readuntil_any(&[b"Z", b"XY"]).await.unwrap(), b"bbZ");
        let r = fed(DEFAULT_LIMIT, b"abcd", true);
        assert_eq!(r.readuntil_any(&[b"cd", b"bcd", b"d"]).await.unwrap(), b"abcd");
        let r = fed(DEFAULT_LIMIT, b"a\r\nb\n", true);
        assert_eq!(r.readuntil_any(&[b"\r\n", b"\n"]).await.unwrap(), b"a\r\n");
        assert_eq!(r.readuntil_any(&[b"\r\n", b"\n"]).await.unwrap(), b"b\n");
    });
}

#[test]
fn readuntil_over_the_limit_is_limit_overrun_and_the_data_stays_buffered() {
    // asyncio (limit=3): feed b"abcdef"; readuntil(b"\n") → LimitOverrunError
    // consumed=6, buffer b"abcdef"; feed b"\n": again, consumed=6.
    // readuntil(b"ef") → consumed=4 (found past the limit).
    let r = fed(3, b"abcdef", false);
    block_on(async {
        assert!(matches!(r.readuntil(b"\n").await, Err(Error::LimitOverrun { consumed: 6 })));
        r.feed_data(b"\n").unwrap();
        assert!(matches!(r.readuntil(b"\n").await, Err(Error::LimitOverrun { consumed: 6 })));
        assert!(matches!(r.readuntil(b"ef").await, Err(Error::LimitOverrun { consumed: 4 })));
        assert_eq!(r.readexactly(7).await.unwrap(), b"abcdef\n", "nothing was consumed");
    });
}

#[test]
fn readuntil_limit_overrun_wins_over_eof() {
    // asyncio (limit=3): feed b"abcd", EOF; readuntil(b"\n") →
    // LimitOverrunError, buffer kept.
    let r = fed(3, b"abcd", true);
    block_on(async {
        assert!(matches!(r.readuntil(b"\n").await, Err(Error::LimitOverrun { consumed: 4 })));
        assert_eq!(r.read(10).await.unwrap(), b"abcd");
    });
}

#[test]
fn readuntil_at_eof_without_separator_is_incomplete_read_with_no_expected_size() {
    let r = fed(3, b"abc", true);
    block_on(async {
        match r.readuntil(b"\n").await {
            Err(Error::IncompleteRead { partial, expected: None }) => assert_eq!(partial, b"abc"),
            other => panic!("{other:?}"),
        }
        assert!(r.at_eof(), "the partial chunk was consumed");
        match r.readuntil(b"x").await {
            Err(Error::IncompleteRead { partial, expected: None }) => assert!(partial.is_empty()),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn a_peer_vanishing_mid_readuntil_is_incomplete_read() {
    let r = StreamReader::new();
    let p = Poller::new();
    let mut f = pin!(r.readuntil(b"END"));
    r.feed_data(b"partial EN").unwrap();
    assert!(p.poll(f.as_mut()).is_pending());
    r.feed_eof();
    match failed(&p, f.as_mut()) {
        Error::IncompleteRead { partial, expected: None } => assert_eq!(partial, b"partial EN"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn empty_separators_are_invalid_arguments() {
    let r = fed(DEFAULT_LIMIT, b"abc", false);
    block_on(async {
        assert!(matches!(r.readuntil(b"").await, Err(Error::InvalidArgument(_))));
        assert!(matches!(r.readuntil_any(&[]).await, Err(Error::InvalidArgument(_))));
        assert!(matches!(r.readuntil_any(&[b"a", b""]).await, Err(Error::InvalidArgument(_))));
        assert_eq!(r.read(10).await.unwrap(), b"abc", "bad input consumed nothing");
    });
}

#[test]
fn at_eof_needs_eof_and_an_empty_buffer() {
    let r = StreamReader::new();
    assert!(!r.at_eof());
    r.feed_data(b"x").unwrap();
    r.feed_eof();
    assert!(!r.at_eof());
    assert_eq!(block_on(r.read(1)).unwrap(), b"x");
    assert!(r.at_eof());
}

#[test]
fn feed_data_after_eof_is_invalid_state_and_empty_data_is_ignored() {
    let r = StreamReader::new();
    r.feed_data(b"").unwrap();
    r.feed_eof();
    assert!(matches!(r.feed_data(b"late"), Err(Error::InvalidState(_))));
    assert_eq!(block_on(r.read(10)).unwrap(), b"");
}

#[test]
fn after_set_exception_every_read_returns_it_even_with_data_buffered() {
    // asyncio: feed b"abc\n", set_exception(ValueError("boom")); readline()
    // raises ValueError boom; exception() is it; at_eof() False.
    let r = fed(DEFAULT_LIMIT, b"abc\n", false);
    r.set_exception(Error::InvalidState("boom".into()));
    block_on(async {
        assert!(matches!(r.readline().await, Err(Error::InvalidState(m)) if m == "boom"));
        assert!(matches!(r.read(0).await, Err(Error::InvalidState(_))));
        assert!(matches!(r.read(1).await, Err(Error::InvalidState(_))));
        assert!(matches!(r.readexactly(0).await, Err(Error::InvalidState(_))));
        assert!(matches!(r.readuntil(b"c").await, Err(Error::InvalidState(_))));
        assert!(matches!(r.read_to_eof().await, Err(Error::InvalidState(_))));
    });
    assert!(matches!(r.exception(), Some(Error::InvalidState(_))));
    assert!(!r.at_eof());
}

#[test]
fn set_exception_wakes_the_waiting_read_with_the_error() {
    let r = StreamReader::new();
    let p = Poller::new();
    let mut f = pin!(r.readexactly(4));
    assert!(p.poll(f.as_mut()).is_pending());
    r.set_exception(Error::ConnectionLost);
    assert_eq!(p.wakes(), 1);
    assert!(matches!(failed(&p, f.as_mut()), Error::ConnectionLost));
}

#[test]
fn a_second_waiting_read_is_a_concurrent_read_error_and_the_first_still_completes() {
    // asyncio: t = readline() waiting; read(3) → RuntimeError "read() called
    // while another coroutine is already waiting for incoming data".
    let r = StreamReader::new();
    let p = Poller::new();
    let mut first = pin!(r.readline());
    assert!(p.poll(first.as_mut()).is_pending());
    let mut second = pin!(r.read(3));
    match failed(&p, second.as_mut()) {
        e @ Error::ConcurrentRead { method: "read" } => assert_eq!(
            e.to_string(),
            "read() called while another task is already waiting for incoming data"
        ),
        e => panic!("{e:?}"),
    }
    r.feed_data(b"x\n").unwrap();
    assert_eq!(ready(&p, first.as_mut()), b"x\n");
}

#[test]
fn a_read_the_buffer_satisfies_never_conflicts_with_a_waiting_one() {
    let r = fed(DEFAULT_LIMIT, b"abc", false);
    let p = Poller::new();
    let mut waiting = pin!(r.readexactly(10));
    assert!(p.poll(waiting.as_mut()).is_pending());
    assert_eq!(block_on(r.read(2)).unwrap(), b"ab");
    r.feed_data(b"0123456789").unwrap();
    assert_eq!(ready(&p, waiting.as_mut()), b"c012345678");
}

#[test]
fn once_the_waiting_read_is_done_or_dropped_another_may_wait() {
    let r = StreamReader::new();
    let p = Poller::new();
    {
        let mut first = pin!(r.readline());
        assert!(p.poll(first.as_mut()).is_pending());
    } // dropped while waiting
    let mut second = pin!(r.readline());
    assert!(p.poll(second.as_mut()).is_pending(), "the dropped read left its place");
    r.feed_data(b"ok\n").unwrap();
    assert_eq!(ready(&p, second.as_mut()), b"ok\n");
}

#[test]
fn dropping_pending_reads_never_loses_buffered_bytes() {
    let r = StreamReader::new();
    let p = Poller::new();
    r.feed_data(b"par").unwrap();
    for _ in 0..2 {
        let mut f = pin!(r.readline());
        assert!(p.poll(f.as_mut()).is_pending());
    }
    r.feed_data(b"tial").unwrap();
    {
        let mut f = pin!(r.readexactly(100));
        assert!(p.poll(f.as_mut()).is_pending());
    }
    {
        let mut f = pin!(r.readuntil_any(&[b"!", b"?"]));
        assert!(p.poll(f.as_mut()).is_pending());
    }
    {
        let mut f = pin!(r.read_to_eof());
        assert!(p.poll(f.as_mut()).is_pending());
    }
    r.feed_data(b" line\n").unwrap();
    assert_eq!(block_on(r.readline()).unwrap(), b"partial line\n");
}

#[test]
fn a_waiting_readuntil_rescans_when_another_read_consumed_meanwhile() {
    let r = StreamReader::new();
    let p = Poller::new();
    let mut f = pin!(r.readuntil(b";"));
    r.feed_data(b"abcdef").unwrap();
    assert!(p.poll(f.as_mut()).is_pending());
    // Another read takes bytes the waiting scan had already looked at.
    assert_eq!(block_on(r.read(4)).unwrap(), b"abcd");
    r.feed_data(b";").unwrap();
    assert_eq!(ready(&p, f.as_mut()), b"ef;");
}
