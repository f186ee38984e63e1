//! Flow control, pinned with a recording fake transport: the reader pauses
//! its transport above 2 × limit and resumes it at or below the limit
//! (ST-02); the writer's drain follows the protocol's pause_writing /
//! resume_writing and surfaces a lost connection (ST-03); the protocol
//! feeds the reader.

mod util;

use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

use futures_lite::future::block_on;
use loop_streams::{Error, StreamReader, StreamReaderProtocol, StreamWriter};
use loop_transports::{BaseProtocol, ExtraInfo, Protocol};
use util::Poller;
use util::fake::Fake;

fn reader_on_fake(limit: usize) -> (StreamReader, Rc<Fake>) {
    let r = StreamReader::with_limit(limit).unwrap();
    let (fake, t) = Fake::new();
    r.set_transport(t).unwrap();
    (r, fake)
}

#[test]
fn the_reader_pauses_above_twice_the_limit_and_resumes_at_or_below_the_limit() {
    let (r, fake) = reader_on_fake(4);
    r.feed_data(b"12345678").unwrap();
    assert!(fake.log().is_empty(), "8 = 2 × limit: not paused");
    r.feed_data(b"9").unwrap();
    assert_eq!(fake.log(), ["pause"], "9 > 2 × limit: paused");
    r.feed_data(b"abc").unwrap();
    assert_eq!(fake.log(), ["pause"], "paused once");
    assert_eq!(block_on(r.readexactly(7)).unwrap(), b"1234567");
    assert_eq!(fake.log(), ["pause"], "5 buffered > limit: still paused");
    assert_eq!(block_on(r.read(1)).unwrap(), b"8");
    assert_eq!(fake.log(), ["pause", "resume"], "4 buffered = limit: resumed");
    assert_eq!(block_on(r.read(100)).unwrap(), b"9abc");
    assert_eq!(fake.log(), ["pause", "resume"], "resumed once");
}

#[test]
fn a_read_that_must_wait_resumes_a_paused_transport() {
    // asyncio's _wait_for_data: waiting on a paused transport would never
    // end (readexactly(n) with n > 2 × limit).
    let (r, fake) = reader_on_fake(2);
    r.feed_data(b"12345").unwrap();
    assert_eq!(fake.log(), ["pause"]);
    let p = Poller::new();
    let mut f = pin!(r.readexactly(10));
    assert!(p.poll(f.as_mut()).is_pending());
    assert_eq!(fake.log(), ["pause", "resume"]);
    r.feed_data(b"67").unwrap();
    assert_eq!(fake.log(), ["pause", "resume", "pause"]);
    r.feed_data(b"890").unwrap();
    assert!(matches!(p.poll(f.as_mut()), Poll::Ready(Ok(v)) if v == b"1234567890"));
    assert_eq!(fake.log(), ["pause", "resume", "pause", "resume"]);
}

#[test]
fn read_to_eof_does_not_pause_the_transport() {
    let (r, fake) = reader_on_fake(2);
    let p = Poller::new();
    let mut f = pin!(r.read_to_eof());
    assert!(p.poll(f.as_mut()).is_pending());
    for _ in 0..10 {
        r.feed_data(b"0123456789").unwrap();
        assert!(p.poll(f.as_mut()).is_pending());
    }
    assert!(fake.log().is_empty());
    r.feed_eof();
    assert!(matches!(p.poll(f.as_mut()), Poll::Ready(Ok(v)) if v.len() == 100));
}

#[test]
fn dropping_a_too_long_line_resumes_the_transport() {
    let (r, fake) = reader_on_fake(2);
    r.feed_data(b"abcdefgh").unwrap();
    assert_eq!(fake.log(), ["pause"]);
    assert!(matches!(block_on(r.readline()), Err(Error::LineTooLong { discarded: 8 })));
    assert_eq!(fake.log(), ["pause", "resume"]);
}

#[test]
fn a_reader_takes_one_transport() {
    let (r, _fake) = reader_on_fake(2);
    let (_other, t) = Fake::new();
    assert!(matches!(r.set_transport(t), Err(Error::InvalidState(_))));
}

#[test]
fn the_protocol_feeds_data_eof_and_errors_to_the_reader() {
    let r = StreamReader::with_limit(1).unwrap();
    let mut proto = StreamReaderProtocol::new(Some(&r));
    let (fake, t) = Fake::new();
    proto.connection_made(t);
    proto.data_received(b"abc");
    assert_eq!(fake.log(), ["pause"], "connection_made gave the reader its transport");
    assert!(proto.eof_received(), "EOF keeps the transport open for writing");
    assert_eq!(block_on(r.read_to_eof()).unwrap(), b"abc");
    assert!(r.at_eof());

    let r = StreamReader::new();
    let mut proto = StreamReaderProtocol::new(Some(&r));
    proto.connection_made(Fake::new().1);
    proto.data_received(b"left over");
    let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    proto.connection_lost(Some(reset.into()));
    match block_on(r.read(100)) {
        Err(e @ Error::Transport(_)) => {
            assert_eq!(e.io_error().unwrap().kind(), std::io::ErrorKind::ConnectionReset);
        }
        other => panic!("{other:?}"),
    }
}

fn writer_on_fake(reader: Option<&StreamReader>) -> (StreamWriter, StreamReaderProtocol, Rc<Fake>) {
    let proto = StreamReaderProtocol::new(reader);
    let (fake, t) = Fake::new();
    let w = StreamWriter::new(t, &proto);
    (w, proto, fake)
}

#[test]
fn drain_returns_at_once_unless_writing_is_paused() {
    let (w, _proto, fake) = writer_on_fake(None);
    w.write(b"hello").unwrap();
    w.writelines(&[b" ", b"world"]).unwrap();
    block_on(w.drain()).unwrap();
    assert_eq!(&*fake.written.borrow(), b"hello world");
}

#[test]
fn drain_waits_for_resume_writing_and_several_tasks_may_drain_at_once() {
    let (w, mut proto, _fake) = writer_on_fake(None);
    proto.pause_writing();
    let w2 = w.clone();
    let p = Poller::new();
    let mut a = pin!(w.drain());
    let mut b = pin!(w2.drain());
    let mut c = pin!(w.drain());
    assert!(p.poll(a.as_mut()).is_pending());
    assert!(p.poll(b.as_mut()).is_pending());
    assert!(p.poll(c.as_mut()).is_pending());
    proto.resume_writing();
    assert!(p.wakes() >= 1, "resume_writing wakes the drainers");
    assert!(matches!(p.poll(a.as_mut()), Poll::Ready(Ok(()))));
    assert!(matches!(p.poll(b.as_mut()), Poll::Ready(Ok(()))));
    assert!(matches!(p.poll(c.as_mut()), Poll::Ready(Ok(()))));
}

#[test]
fn a_resume_releases_waiting_drains_even_if_writing_paused_again() {
    let (w, mut proto, _fake) = writer_on_fake(None);
    proto.pause_writing();
    let p = Poller::new();
    let mut a = pin!(w.drain());
    assert!(p.poll(a.as_mut()).is_pending());
    proto.resume_writing();
    proto.pause_writing();
    assert!(matches!(p.poll(a.as_mut()), Poll::Ready(Ok(()))));
    let mut late = pin!(w.drain());
    assert!(p.poll(late.as_mut()).is_pending(), "a drain started after the pause waits");
}

#[test]
fn drain_surfaces_a_lost_connection_as_an_error() {
    let (w, mut proto, _fake) = writer_on_fake(None);
    proto.pause_writing();
    let p = Poller::new();
    let mut waiting = pin!(w.drain());
    assert!(p.poll(waiting.as_mut()).is_pending());
    proto.connection_lost(None);
    assert!(matches!(p.poll(waiting.as_mut()), Poll::Ready(Err(Error::ConnectionLost))));
    assert!(matches!(block_on(w.drain()), Err(Error::ConnectionLost)));
    assert_eq!(Error::ConnectionLost.to_string(), "connection lost");

    let (w, mut proto, _fake) = writer_on_fake(None);
    let broken = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
    proto.connection_lost(Some(broken.into()));
    match block_on(w.drain()) {
        Err(e @ Error::Transport(_)) => {
            assert_eq!(e.io_error().unwrap().kind(), std::io::ErrorKind::BrokenPipe);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn drain_returns_the_readers_exception() {
    let r = StreamReader::new();
    let (w, _proto, _fake) = writer_on_fake(Some(&r));
    r.set_exception(Error::InvalidState("reader failed".into()));
    assert!(matches!(block_on(w.drain()), Err(Error::InvalidState(m)) if m == "reader failed"));
}

#[test]
fn drain_on_a_closing_transport_yields_once_for_connection_lost() {
    let (w, mut proto, fake) = writer_on_fake(None);
    fake.closing.set(true);
    let p = Poller::new();
    let mut d = pin!(w.drain());
    assert!(p.poll(d.as_mut()).is_pending());
    assert_eq!(p.wakes(), 1, "it yields (asyncio's sleep(0)) and wakes itself");
    proto.connection_lost(None);
    assert!(matches!(p.poll(d.as_mut()), Poll::Ready(Err(Error::ConnectionLost))));
}

#[test]
fn drain_over_the_high_water_mark_yields_once_for_the_flush_then_follows_pause_writing() {
    let (w, mut proto, fake) = writer_on_fake(None);
    fake.buffered.set(65);
    let p = Poller::new();
    let mut d = pin!(w.drain());
    assert!(p.poll(d.as_mut()).is_pending(), "over high water, no pause delivered yet");
    assert_eq!(p.wakes(), 1);
    // The flush delivers pause_writing: the drain now waits for resume.
    proto.pause_writing();
    assert!(p.poll(d.as_mut()).is_pending());
    proto.resume_writing();
    assert!(matches!(p.poll(d.as_mut()), Poll::Ready(Ok(()))));

    // At the mark (not over it) there is nothing to wait for.
    fake.buffered.set(64);
    assert!(matches!(p.poll(pin!(w.drain()).as_mut()), Poll::Ready(Ok(()))));
    // If the flush sent enough, no pause comes: the second poll returns.
    fake.buffered.set(100);
    let mut d = pin!(w.drain());
    assert!(p.poll(d.as_mut()).is_pending());
    fake.buffered.set(0);
    assert!(matches!(p.poll(d.as_mut()), Poll::Ready(Ok(()))));
}

#[test]
fn wait_closed_resolves_at_connection_lost_with_its_error() {
    let (w, mut proto, _fake) = writer_on_fake(None);
    let p = Poller::new();
    let mut c = pin!(w.wait_closed());
    assert!(p.poll(c.as_mut()).is_pending());
    proto.connection_lost(None);
    assert!(matches!(p.poll(c.as_mut()), Poll::Ready(Ok(()))));

    let (w, mut proto, _fake) = writer_on_fake(None);
    proto.connection_lost(Some(std::io::Error::from(std::io::ErrorKind::ConnectionReset).into()));
    assert!(matches!(block_on(w.wait_closed()), Err(Error::Transport(_))));
}

#[test]
fn the_writer_passes_write_eof_close_and_extra_info_to_the_transport() {
    let (w, _proto, fake) = writer_on_fake(None);
    assert!(w.can_write_eof());
    w.write_eof().unwrap();
    assert_eq!(w.get_extra_info("socket"), Some(ExtraInfo::Fd(42)));
    assert_eq!(w.get_extra_info("no such key"), None);
    assert!(!w.is_closing());
    w.close();
    assert!(w.is_closing());
    assert!(matches!(w.write(b"late"), Err(Error::Transport(loop_transports::Error::Closed))));
    assert_eq!(fake.log(), ["write_eof", "close"]);
    assert!(w.transport().is_closing(), "transport() is the writer's transport");
}

#[test]
fn dropping_the_last_writer_closes_the_transport() {
    let (w, _proto, fake) = writer_on_fake(None);
    let w2 = w.clone();
    drop(w);
    assert!(fake.log().is_empty(), "a clone is still alive");
    drop(w2);
    assert_eq!(fake.log(), ["close"]);
}
