//! `StreamReader`: asyncio's buffered reader — `read`, `readline`,
//! `readexactly`, `readuntil` — fed by a protocol or by hand.

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context, Poll};

use loop_transports::TransportRef;

use crate::buffer::{self, ReadBuffer, Separators, UntilScan};
use crate::error::{Error, Result};
use crate::feed::{Feed, IO_TOKEN};
use crate::options::{DEFAULT_LIMIT, check_limit};
use crate::writer::Link;

/// A buffered reader of a byte stream (asyncio's `StreamReader`).
///
/// [`open_connection`](crate::open_connection) and
/// [`start_server`](crate::start_server) hand one out, fed by the
/// connection; a reader made with [`new`](StreamReader::new) is fed by hand
/// with [`feed_data`](StreamReader::feed_data) /
/// [`feed_eof`](StreamReader::feed_eof), or by a
/// [`StreamReaderProtocol`](crate::StreamReaderProtocol) over any transport.
///
/// # The buffer limit
///
/// `limit` (default [`DEFAULT_LIMIT`], 64 KiB) bounds what `readline` and
/// `readuntil` accept — the chunk before the separator may be at most
/// `limit` bytes — and drives read flow control: when more than
/// 2 × `limit` bytes are buffered the transport is paused
/// (`pause_reading`), and it is resumed when the buffer is back at or below
/// `limit`, or when a read has to wait for data. `read` and `readexactly`
/// are not bounded by it.
///
/// # One reader at a time
///
/// Read methods take `&self`, so a reader can be shared between tasks, but
/// only one read may *wait* for data at a time: a second read that would
/// have to wait while another one waits fails with
/// [`Error::ConcurrentRead`] instead of racing it for the next bytes (as
/// asyncio raises `RuntimeError`). Reads that the buffer already satisfies
/// never wait and never fail this way.
///
/// # Cancel safety
///
/// Every read is cancel-safe: bytes are taken from the buffer only in the
/// poll that completes the read, so dropping a pending read (a timeout, a
/// `select`) loses nothing — the next read sees every byte. (asyncio's
/// `read(-1)` loses what it had gathered when cancelled; here
/// [`read_to_eof`](StreamReader::read_to_eof) keeps it buffered.)
///
/// # Errors
///
/// Once [`set_exception`](StreamReader::set_exception) was called (the
/// connection failed), every read returns that error, even with data still
/// buffered — asyncio's behaviour.
pub struct StreamReader {
    buf: RefCell<ReadBuffer>,
    feed: Rc<Feed>,
    /// Closes the connection once the reader and every writer are dropped
    /// (set for the pairs the factories make).
    guard: Option<Rc<Link>>,
}

impl StreamReader {
    /// A reader with the default limit ([`DEFAULT_LIMIT`]).
    pub fn new() -> Self {
        Self::from_feed(Rc::new(Feed::new(DEFAULT_LIMIT)))
    }

    /// A reader with buffer limit `limit`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `limit` is 0 (asyncio: "Limit cannot
    /// be <= 0").
    pub fn with_limit(limit: usize) -> Result<Self> {
        Ok(Self::from_feed(Rc::new(Feed::new(check_limit(limit)?))))
    }

    /// A reader with a limit already checked by [`check_limit`].
    pub(crate) fn with_checked_limit(limit: usize) -> Self {
        Self::from_feed(Rc::new(Feed::new(limit)))
    }

    fn from_feed(feed: Rc<Feed>) -> Self {
        StreamReader { buf: RefCell::new(ReadBuffer::default()), feed, guard: None }
    }

    pub(crate) fn feed(&self) -> &Rc<Feed> {
        &self.feed
    }

    pub(crate) fn set_guard(&mut self, guard: Rc<Link>) {
        self.guard = Some(guard);
    }

    /// The buffer limit.
    pub fn limit(&self) -> usize {
        self.feed.limit()
    }

    /// The stored exception, if [`set_exception`](StreamReader::set_exception)
    /// was called.
    pub fn exception(&self) -> Option<Error> {
        self.feed.exception()
    }

    /// Whether EOF was fed and every byte was read.
    pub fn at_eof(&self) -> bool {
        self.feed.at_eof()
    }

    /// Appends received bytes (asyncio's `feed_data`); wakes a waiting read.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] after [`feed_eof`](StreamReader::feed_eof).
    pub fn feed_data(&self, data: &[u8]) -> Result<()> {
        self.feed.feed_data(data)
    }

    /// Marks the end of the stream (asyncio's `feed_eof`); wakes a waiting
    /// read.
    pub fn feed_eof(&self) {
        self.feed.feed_eof();
    }

    /// Stores `err`: every later read returns it (asyncio's
    /// `set_exception`); wakes a waiting read.
    pub fn set_exception(&self, err: Error) {
        self.feed.set_exception(err);
    }

    /// Sets the transport this reader pauses and resumes (asyncio's
    /// `set_transport`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] when a transport is already set.
    pub fn set_transport(&self, transport: TransportRef) -> Result<()> {
        self.feed.set_transport(transport)
    }

    /// Reads up to `n` bytes: waits until at least one byte is buffered (or
    /// EOF), then returns what is there, at most `n`. Empty at EOF, and at
    /// once for `n == 0`. Not bounded by the limit.
    ///
    /// # Errors
    ///
    /// The stored exception; [`Error::ConcurrentRead`] when another read is
    /// waiting.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it before it completes consumes nothing.
    pub async fn read(&self, n: usize) -> Result<Vec<u8>> {
        if let Some(e) = self.exception() {
            return Err(e);
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        self.run("read", |buf, eof, _| buffer::read_step(buf, eof, n)).await
    }

    /// Reads until EOF and returns every byte (asyncio's `read()` /
    /// `read(-1)`).
    ///
    /// # Errors
    ///
    /// The stored exception; [`Error::ConcurrentRead`] when another read is
    /// waiting.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the bytes stay buffered until EOF, so dropping it loses
    /// nothing. The transport is not paused while it runs (it would have to
    /// be resumed at once to reach EOF).
    pub async fn read_to_eof(&self) -> Result<Vec<u8>> {
        struct Flag<'a>(&'a Feed);
        impl Drop for Flag<'_> {
            fn drop(&mut self) {
                self.0.set_reading_to_eof(false);
            }
        }
        if let Some(e) = self.exception() {
            return Err(e);
        }
        self.feed.set_reading_to_eof(true);
        let _flag = Flag(&self.feed);
        self.run("read", |buf, eof, _| eof.then(|| Ok(buf.take_all()))).await
    }

    /// Reads one line, up to and including `\n`. At EOF the last,
    /// unterminated line is returned as it is, then empty lines.
    ///
    /// # Errors
    ///
    /// [`Error::LineTooLong`] when the line (without its newline) is longer
    /// than the limit: as asyncio, the line is dropped up to and including
    /// its newline if that is buffered, otherwise the whole buffer is
    /// dropped (the line's tail then comes back from the next `readline`).
    /// The stored exception; [`Error::ConcurrentRead`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it before it completes consumes nothing.
    pub async fn readline(&self) -> Result<Vec<u8>> {
        let mut scan = UntilScan::new(Separators::new(&[b"\n"])?);
        self.run("readline", move |buf, eof, limit| buffer::line_step(&mut scan, buf, eof, limit))
            .await
    }

    /// Reads exactly `n` bytes. `readexactly(0)` returns an empty vector at
    /// once. Not bounded by the limit.
    ///
    /// # Errors
    ///
    /// [`Error::IncompleteRead`] when EOF comes first: it carries the bytes
    /// read (taken from the buffer) and `expected: Some(n)`. The stored
    /// exception; [`Error::ConcurrentRead`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it before it completes consumes nothing.
    pub async fn readexactly(&self, n: usize) -> Result<Vec<u8>> {
        if let Some(e) = self.exception() {
            return Err(e);
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        self.run("readexactly", |buf, eof, _| buffer::exactly_step(buf, eof, n)).await
    }

    /// Reads up to and including `separator`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty separator;
    /// [`Error::LimitOverrun`] when no separator starts within the first
    /// `limit` bytes — the data stays buffered; [`Error::IncompleteRead`]
    /// at EOF without a separator, carrying (and consuming) what was
    /// buffered, `expected: None`. The stored exception;
    /// [`Error::ConcurrentRead`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it before it completes consumes nothing.
    pub async fn readuntil(&self, separator: &[u8]) -> Result<Vec<u8>> {
        self.readuntil_any(&[separator]).await
    }

    /// Reads up to and including the first of several separators (asyncio
    /// 3.13's `readuntil` with a tuple): the shortest chunk that ends with
    /// any of them wins. For [`Error::LimitOverrun`], the separator that
    /// matched is the shortest of those ending the chunk.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let r = loop_streams::StreamReader::new();
    /// r.feed_data(b"key: value\r\nrest\n")?;
    /// assert_eq!(r.readuntil_any(&[b"\n", b"\r\n"]).await?, b"key: value\r\n");
    /// # Ok::<(), loop_streams::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`readuntil`](StreamReader::readuntil);
    /// [`Error::InvalidArgument`] also for an empty list.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it before it completes consumes nothing.
    pub async fn readuntil_any(&self, separators: &[&[u8]]) -> Result<Vec<u8>> {
        let mut scan = UntilScan::new(Separators::new(separators)?);
        if let Some(e) = self.exception() {
            return Err(e);
        }
        self.run("readuntil", move |buf, eof, limit| scan.step(buf, eof, limit)).await
    }

    /// Drives one read: `step` runs on every poll with the buffer, whether
    /// EOF was fed, and the limit; `None` means "wait for more data".
    async fn run<T>(
        &self,
        method: &'static str,
        mut step: impl FnMut(&mut ReadBuffer, bool, usize) -> Option<Result<T>>,
    ) -> Result<T> {
        let mut slot = WaitSlot { feed: &self.feed, token: None };
        poll_fn(|cx| self.poll_step(cx, method, &mut slot.token, &mut step)).await
    }

    /// One poll of a read. `token` identifies the read once it has waited.
    pub(crate) fn poll_step<T>(
        &self,
        cx: &Context<'_>,
        method: &'static str,
        token: &mut Option<u64>,
        step: &mut impl FnMut(&mut ReadBuffer, bool, usize) -> Option<Result<T>>,
    ) -> Poll<Result<T>> {
        if let Some(e) = self.feed.exception() {
            return Poll::Ready(Err(e));
        }
        let (out, consumed) = {
            let mut buf = self.buf.borrow_mut();
            let eof = self.feed.pull_into(&mut buf);
            let before = buf.len();
            let out = step(&mut buf, eof, self.feed.limit());
            (out, before - buf.len())
        };
        if consumed > 0 {
            self.feed.consumed(consumed);
        }
        match out {
            Some(r) => Poll::Ready(r),
            None => {
                let t = *token.get_or_insert_with(|| self.feed.new_token());
                match self.feed.wait(t, cx, method) {
                    Ok(()) => Poll::Pending,
                    Err(e) => Poll::Ready(Err(e)),
                }
            }
        }
    }

    /// The buffer, for `AsyncBufRead` (which holds `&mut self`).
    pub(crate) fn buf_mut(&mut self) -> &mut ReadBuffer {
        self.buf.get_mut()
    }
}

/// Releases a read's place as the waiter when the read ends or is dropped.
struct WaitSlot<'a> {
    feed: &'a Feed,
    token: Option<u64>,
}

impl Drop for WaitSlot<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.token {
            self.feed.release(t);
        }
    }
}

impl Default for StreamReader {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for StreamReader {
    fn drop(&mut self) {
        self.feed.release(IO_TOKEN);
    }
}

impl fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamReader")
            .field("buffered", &self.feed.buffered())
            .field("limit", &self.limit())
            .field("eof", &self.feed.is_eof())
            .field("paused", &self.feed.is_paused())
            .field("exception", &self.exception())
            .finish()
    }
}
