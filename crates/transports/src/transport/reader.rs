//! The read half of [`FdTransport`]: one read per readiness event, into a
//! reusable buffer (or straight into a `BufferedProtocol`'s buffer).
//!
//! The fd is watched edge-triggered ([`Loop::add_reader_edge`]): the kernel
//! reports new data once, not on every poll while it lasts. A short read
//! drained the socket or pipe (the kernel copies until the buffer is full
//! or nothing is left), so new data will be a new edge; a read that filled
//! the buffer may have left data behind, so the transport reads again on
//! the next iteration — still one read per connection per iteration, as
//! asyncio does, so a peer that floods cannot starve the others.
//!
//! [`Loop::add_reader_edge`]: loop_core::Loop::add_reader_edge

use std::cell::RefCell;

use super::fd_transport::{FdKind, FdTransport};
use super::lifecycle::LoopGuard;
use crate::error::Error;
use crate::protocol::StreamProtocolKind;
use crate::sys;

/// Size of the shared read buffer (asyncio reads up to 256 KiB at a time).
pub(crate) const READ_BUFFER_SIZE: usize = 256 * 1024;

thread_local! {
    /// One read buffer per thread, lent to `data_received`. Protocol
    /// callbacks never run nested inside each other, so one is enough; a
    /// nested read (which the loop never does) would get a fresh buffer.
    static READ_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; READ_BUFFER_SIZE].into_boxed_slice());
}

/// Runs `f` with the thread's read buffer (or a fresh one if it is in use).
pub(crate) fn with_read_buffer<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    READ_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut g) => f(&mut g[..]),
        Err(_) => f(&mut vec![0u8; 64 * 1024][..]),
    })
}

impl FdTransport {
    /// The reader callback.
    pub(super) fn on_readable(&self) {
        if self.life.is_losing() {
            return;
        }
        if self.kind == FdKind::WritePipe {
            return self.on_write_pipe_readable();
        }
        let Some(proto) = self.protocol.borrow().clone() else { return };
        match &proto.kind {
            StreamProtocolKind::Streaming(p) => READ_BUF.with(|cell| {
                let mut fresh;
                let mut guard;
                let buf: &mut [u8] = match cell.try_borrow_mut() {
                    Ok(g) => {
                        guard = g;
                        &mut guard[..]
                    }
                    Err(_) => {
                        fresh = vec![0u8; 64 * 1024];
                        &mut fresh[..]
                    }
                };
                let Some(r) = self.with_fd(|fd| sys::read(fd, buf)) else { return };
                match r {
                    Ok(0) => self.on_eof(),
                    Ok(n) => {
                        if n == buf.len() {
                            self.schedule_read_more();
                        }
                        let data = &buf[..n];
                        self.call_protocol("data_received", |_| p.borrow_mut().data_received(data));
                    }
                    Err(e) if sys::would_block(&e) => {}
                    Err(e) => self.fatal_error(e.into(), "Fatal read error on transport"),
                }
            }),
            StreamProtocolKind::Buffered(p) => {
                let outcome = self.call_protocol("get_buffer", |_| {
                    let mut g = p.borrow_mut();
                    let buf = g.get_buffer(READ_BUFFER_SIZE);
                    if buf.is_empty() {
                        return Err(Error::invalid("get_buffer() returned an empty buffer"));
                    }
                    let r = self.with_fd(|fd| sys::read(fd, buf));
                    match r {
                        Some(Ok(n)) if n > 0 => {
                            if n == buf.len() {
                                self.schedule_read_more();
                            }
                            g.buffer_updated(n);
                            Ok(None)
                        }
                        Some(Ok(_)) => Ok(Some(())),
                        Some(Err(e)) if sys::would_block(&e) => Ok(None),
                        Some(Err(e)) => Err(e.into()),
                        None => Ok(None),
                    }
                });
                match outcome {
                    Some(Ok(Some(()))) => self.on_eof(),
                    Some(Err(e)) => self.fatal_error(e, "Fatal read error on transport"),
                    _ => {}
                }
            }
        }
    }

    /// A read filled the buffer: read again next iteration (once), unless
    /// reading stopped meanwhile (paused, EOF, closed).
    fn schedule_read_more(&self) {
        if self.read_more_scheduled.replace(true) {
            return;
        }
        let Some(me) = self.me.upgrade() else { return };
        let me = LoopGuard(me);
        let scheduled = self.lp.call_soon(move || {
            me.0.read_more_scheduled.set(false);
            if me.0.reader_registered.get() {
                me.0.on_readable();
            }
        });
        if scheduled.is_err() {
            self.read_more_scheduled.set(false);
        }
    }

    /// The peer sent EOF: `eof_received` once; close unless it asks to
    /// stay open (pipes always close).
    fn on_eof(&self) {
        self.remove_reader();
        if self.eof_received.replace(true) {
            return;
        }
        let keep_open = self.call_protocol("eof_received", |p| match &p.kind {
            StreamProtocolKind::Streaming(p) => p.borrow_mut().eof_received(),
            StreamProtocolKind::Buffered(p) => p.borrow_mut().eof_received(),
        });
        match keep_open {
            None if self.life.is_losing() => {}
            Some(true) if self.kind == FdKind::Socket => {}
            _ => self.raw_close(),
        }
    }

    /// The write end of a pipe became "readable": the reader went away.
    fn on_write_pipe_readable(&self) {
        if self.wbuf.borrow().is_empty() {
            self.force_close(None);
        } else {
            self.force_close(Some(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into()));
        }
    }
}
