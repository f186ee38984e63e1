//! The side of a reader that the protocol feeds: received bytes not yet
//! handed to the reader, EOF, the stored exception, the one waiting read,
//! and read flow control of the transport (pause above 2 × limit, resume at
//! or below the limit).
//!
//! It is shared (`Rc`) between the [`StreamReader`](crate::StreamReader) and
//! whoever feeds it — a [`StreamReaderProtocol`](crate::StreamReaderProtocol)
//! or code calling `feed_data` by hand — and only ever borrowed for the
//! length of one method, never across an `await`.

use std::cell::RefCell;
use std::task::{Context, Waker};

use loop_transports::TransportRef;

use crate::buffer::ReadBuffer;
use crate::error::{Error, Result};

#[derive(Default)]
struct FeedState {
    /// Bytes fed and not yet moved into the reader's buffer.
    incoming: Vec<u8>,
    /// Bytes buffered in total: `incoming` plus the reader's buffer.
    buffered: usize,
    limit: usize,
    eof: bool,
    exception: Option<Error>,
    /// The read waiting for data: its token and waker.
    waiter: Option<(u64, Waker)>,
    next_token: u64,
    transport: Option<TransportRef>,
    /// Reading from the transport was paused by this reader.
    paused: bool,
    /// A `read_to_eof` is in progress: it takes everything anyway, so the
    /// transport is not paused under it (asyncio's `read(-1)` consumes as
    /// it goes and never lets the buffer grow).
    reading_to_eof: bool,
}

/// The waiter token of polls through the `futures-io` traits (see
/// [`Feed::wait`]); read futures get tokens from 1 up.
pub(crate) const IO_TOKEN: u64 = 0;

/// The shared, fed side of a reader.
pub(crate) struct Feed {
    st: RefCell<FeedState>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.st.borrow();
        f.debug_struct("Feed")
            .field("buffered", &st.buffered)
            .field("eof", &st.eof)
            .field("paused", &st.paused)
            .finish_non_exhaustive()
    }
}

impl Feed {
    pub(crate) fn new(limit: usize) -> Self {
        Feed { st: RefCell::new(FeedState { limit, next_token: 1, ..FeedState::default() }) }
    }

    pub(crate) fn limit(&self) -> usize {
        self.st.borrow().limit
    }

    pub(crate) fn exception(&self) -> Option<Error> {
        self.st.borrow().exception.clone()
    }

    pub(crate) fn buffered(&self) -> usize {
        self.st.borrow().buffered
    }

    pub(crate) fn is_eof(&self) -> bool {
        self.st.borrow().eof
    }

    pub(crate) fn at_eof(&self) -> bool {
        let st = self.st.borrow();
        st.eof && st.buffered == 0
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.st.borrow().paused
    }

    /// A token identifying one waiting read.
    pub(crate) fn new_token(&self) -> u64 {
        let mut st = self.st.borrow_mut();
        st.next_token += 1;
        st.next_token
    }

    /// Appends received bytes, wakes the waiting read, and pauses the
    /// transport once more than 2 × limit bytes are buffered.
    pub(crate) fn feed_data(&self, data: &[u8]) -> Result<()> {
        let (waker, pause) = {
            let mut st = self.st.borrow_mut();
            if st.eof {
                return Err(Error::InvalidState("feed_data() after feed_eof()".into()));
            }
            if data.is_empty() {
                return Ok(());
            }
            st.incoming.extend_from_slice(data);
            st.buffered += data.len();
            let waker = st.waiter.take().map(|(_, w)| w);
            let pause = match &st.transport {
                // Saturating: a limit above `usize::MAX / 2` never pauses.
                Some(t)
                    if !st.paused
                        && !st.reading_to_eof
                        && st.buffered > st.limit.saturating_mul(2) =>
                {
                    Some(t.clone())
                }
                _ => None,
            };
            if pause.is_some() {
                st.paused = true;
            }
            (waker, pause)
        };
        if let Some(w) = waker {
            w.wake();
        }
        if let Some(t) = pause {
            t.pause_reading();
        }
        Ok(())
    }

    /// Marks EOF and wakes the waiting read.
    pub(crate) fn feed_eof(&self) {
        let waker = {
            let mut st = self.st.borrow_mut();
            st.eof = true;
            st.waiter.take()
        };
        if let Some((_, w)) = waker {
            w.wake();
        }
    }

    /// Stores the exception every later read returns; wakes the waiting
    /// read.
    pub(crate) fn set_exception(&self, err: Error) {
        let waker = {
            let mut st = self.st.borrow_mut();
            st.exception = Some(err);
            st.waiter.take()
        };
        if let Some((_, w)) = waker {
            w.wake();
        }
    }

    /// Sets the transport to pause and resume.
    pub(crate) fn set_transport(&self, transport: TransportRef) -> Result<()> {
        let mut st = self.st.borrow_mut();
        if st.transport.is_some() {
            return Err(Error::InvalidState("the reader's transport is already set".into()));
        }
        st.transport = Some(transport);
        Ok(())
    }

    /// Puts `transport` (a TLS layer over the old one) in the place of the
    /// transport, unless the connection is already gone. The upgrade
    /// resumed reading beneath, so the new transport is not paused.
    pub(crate) fn replace_transport(&self, transport: TransportRef) {
        let old = {
            let mut st = self.st.borrow_mut();
            if st.transport.is_none() {
                return;
            }
            st.paused = false;
            st.transport.replace(transport)
        };
        drop(old);
    }

    /// Forgets the transport (the connection is gone): breaks the
    /// reader → transport → protocol → reader cycle.
    pub(crate) fn detach_transport(&self) {
        let t = self.st.borrow_mut().transport.take();
        drop(t);
    }

    /// Moves fed bytes into the reader's buffer; whether EOF was fed.
    pub(crate) fn pull_into(&self, buf: &mut ReadBuffer) -> bool {
        let mut st = self.st.borrow_mut();
        buf.append(&mut st.incoming);
        st.eof
    }

    /// The reader consumed `n` bytes: resume the transport once the buffer
    /// is back at or below the limit.
    pub(crate) fn consumed(&self, n: usize) {
        let resume = {
            let mut st = self.st.borrow_mut();
            st.buffered -= n;
            if st.paused && st.buffered <= st.limit {
                st.paused = false;
                st.transport.clone()
            } else {
                None
            }
        };
        if let Some(t) = resume {
            t.resume_reading();
        }
    }

    /// Registers the read `token` as the one waiting for data. A paused
    /// transport is resumed first: waiting on a paused transport would never
    /// end (asyncio's `_wait_for_data`).
    ///
    /// [`IO_TOKEN`] is the token of polls through the `futures-io` traits.
    /// Those hold `&mut StreamReader`, so no other read of the reader can be
    /// alive while they poll, and none can be while a read future borrows
    /// it: a registration with or against `IO_TOKEN` is always a stale one
    /// (a poll that was abandoned) and is replaced.
    ///
    /// # Errors
    ///
    /// [`Error::ConcurrentRead`] when another read is already waiting.
    pub(crate) fn wait(&self, token: u64, cx: &Context<'_>, method: &'static str) -> Result<()> {
        let resume = {
            let mut st = self.st.borrow_mut();
            match &mut st.waiter {
                Some((t, _)) if *t != token && *t != IO_TOKEN && token != IO_TOKEN => {
                    return Err(Error::ConcurrentRead { method });
                }
                Some((t, w)) if *t != token => {
                    *t = token;
                    w.clone_from(cx.waker());
                }
                Some((_, w)) => w.clone_from(cx.waker()),
                None => st.waiter = Some((token, cx.waker().clone())),
            }
            if st.paused {
                st.paused = false;
                st.transport.clone()
            } else {
                None
            }
        };
        if let Some(t) = resume {
            t.resume_reading();
        }
        Ok(())
    }

    /// The read `token` stopped waiting (it finished or was dropped).
    pub(crate) fn release(&self, token: u64) {
        let mut st = self.st.borrow_mut();
        if matches!(&st.waiter, Some((t, _)) if *t == token) {
            st.waiter = None;
        }
    }

    pub(crate) fn set_reading_to_eof(&self, on: bool) {
        self.st.borrow_mut().reading_to_eof = on;
    }
}
