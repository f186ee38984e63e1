//! The write half of [`FdTransport`]: writes are copied into the buffer and
//! flushed once per loop iteration (before the poll), large writes go out at
//! once as one vectored send, and only what the socket refuses stays
//! buffered with a writer registered.

use super::fd_transport::{FdKind, FdTransport};
use super::flow::FlowSignal;
use crate::error::{Error, Result};
use crate::sys;

/// Writes at least this large (with nothing refused pending) are sent at
/// once instead of being copied for the end-of-batch flush.
pub(crate) const DIRECT_WRITE_MIN: usize = 16 * 1024;

impl FdTransport {
    fn check_writable(&self) -> Result<()> {
        if self.kind == FdKind::ReadPipe {
            return Err(Error::Unsupported("writing to a read pipe"));
        }
        if self.life.is_closing() {
            return Err(Error::Closed);
        }
        if self.eof_written.get() {
            return Err(Error::InvalidState("write() after write_eof()".into()));
        }
        Ok(())
    }

    pub(super) fn do_write(&self, bufs: &[&[u8]]) -> Result<()> {
        self.check_writable()?;
        if self.sendfile_active.get() {
            return Err(Error::SendfileInProgress);
        }
        self.push(bufs)
    }

    /// Marks a `sendfile` as running until the guard drops: until then
    /// `write`, `writelines`, `write_eof` and another `sendfile` fail with
    /// [`Error::SendfileInProgress`], so nothing lands among the file's
    /// bytes. The sendfile fallback writes with
    /// [`write_for_sendfile`](Self::write_for_sendfile).
    ///
    /// # Errors
    ///
    /// [`Error::SendfileInProgress`] when a `sendfile` is already running.
    pub(crate) fn begin_sendfile(&self) -> Result<SendfileGuard<'_>> {
        if self.sendfile_active.replace(true) {
            return Err(Error::SendfileInProgress);
        }
        Ok(SendfileGuard(self))
    }

    /// `write` for the sendfile fallback, which owns the transport's
    /// write side while it runs. A transport closed by a failure reports
    /// that failure (with its errno), not just `Closed`.
    pub(crate) fn write_for_sendfile(&self, data: &[u8]) -> Result<()> {
        match self.check_writable() {
            Err(Error::Closed) => Err(self.lost_error()),
            Err(e) => Err(e),
            Ok(()) => self.push(&[data]),
        }
    }

    /// Queues (or sends at once) already-checked data.
    fn push(&self, bufs: &[&[u8]]) -> Result<()> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok(());
        }
        if !self.writer_registered.get() && total >= DIRECT_WRITE_MIN {
            if let Err(e) = self.write_direct(bufs) {
                self.fatal_error(e, "Fatal write error on transport");
                return Ok(());
            }
        } else {
            let mut wb = self.wbuf.borrow_mut();
            for b in bufs {
                wb.extend(b);
            }
        }
        self.schedule_flush(false);
        Ok(())
    }

    /// Sends pending bytes and `bufs` in one vectored call; keeps the rest.
    fn write_direct(&self, bufs: &[&[u8]]) -> Result<()> {
        let mut wb = self.wbuf.borrow_mut();
        let pending = wb.len();
        let sent = {
            let mut stack: [&[u8]; 17] = [&[]; 17];
            let mut heap: Vec<&[u8]>;
            let all: &[&[u8]] = if bufs.len() < stack.len() {
                stack[0] = wb.as_slice();
                stack[1..=bufs.len()].copy_from_slice(bufs);
                &stack[..=bufs.len()]
            } else {
                heap = Vec::with_capacity(bufs.len() + 1);
                heap.push(wb.as_slice());
                heap.extend_from_slice(bufs);
                &heap
            };
            let all = if pending == 0 { &all[1..] } else { all };
            let socket = self.kind == FdKind::Socket;
            match self.with_fd(|fd| sys::send_vectored(fd, all, socket)) {
                Some(Ok(n)) => n,
                Some(Err(e)) if sys::would_block(&e) => 0,
                Some(Err(e)) => return Err(e.into()),
                None => return Err(Error::Closed),
            }
        };
        let mut left = sent;
        let from_pending = left.min(pending);
        wb.consume(from_pending);
        left -= from_pending;
        for b in bufs {
            if left >= b.len() {
                left -= b.len();
            } else {
                wb.extend(&b[left..]);
                left = 0;
            }
        }
        let refused = !wb.is_empty();
        drop(wb);
        if refused {
            self.add_writer();
        }
        Ok(())
    }

    /// Schedules the end-of-batch flush (once per batch). `always` also
    /// schedules it with an empty buffer, to re-check the water marks.
    pub(super) fn schedule_flush(&self, always: bool) {
        if self.flush_scheduled.get() || self.life.is_losing() {
            return;
        }
        if !always && self.wbuf.borrow().is_empty() {
            return;
        }
        self.flush_scheduled.set(true);
        if self.lp.call_before_poll_handle(&self.flush_handle).is_err() {
            self.flush_scheduled.set(false);
        }
    }

    /// The end-of-batch flush.
    pub(super) fn flush(&self) {
        self.flush_scheduled.set(false);
        if self.life.is_losing() {
            return;
        }
        if !self.writer_registered.get() && !self.send_buffered() {
            return;
        }
        self.after_send();
    }

    /// The writer callback: the socket can take more.
    pub(super) fn on_writable(&self) {
        if self.life.is_losing() || !self.send_buffered() {
            return;
        }
        self.after_send();
    }

    /// Sends the buffered bytes until all are sent or the OS refuses more
    /// (`EAGAIN`), and registers the writer if some are left. The writer is
    /// edge-triggered, so a partial send is retried at once: only a refusal
    /// guarantees a new edge when space frees. Returns `false` after a
    /// fatal error.
    fn send_buffered(&self) -> bool {
        loop {
            let r = {
                let wb = self.wbuf.borrow();
                if wb.is_empty() {
                    return true;
                }
                let data = wb.as_slice();
                self.with_fd(|fd| match self.kind {
                    FdKind::Socket => sys::send(fd, data),
                    _ => sys::write(fd, data),
                })
            };
            match r {
                Some(Ok(n)) if n > 0 => self.wbuf.borrow_mut().consume(n),
                Some(Ok(_)) => break,
                Some(Err(e)) if sys::would_block(&e) => break,
                Some(Err(e)) => {
                    self.fatal_error(e.into(), "Fatal write error on transport");
                    return false;
                }
                None => return false,
            }
        }
        self.add_writer();
        true
    }

    /// After a send: finish a drained buffer, then deliver flow control.
    fn after_send(&self) {
        if self.wbuf.borrow().is_empty() {
            self.remove_writer();
            self.on_drained();
        }
        if self.life.is_losing() {
            return;
        }
        let size = self.wbuf.borrow().len();
        let mut fc = self.flow.get();
        let signal = fc.update(size);
        self.flow.set(fc);
        match signal {
            Some(FlowSignal::Pause) => self.signal_protocol(true),
            Some(FlowSignal::Resume) => self.signal_protocol(false),
            None => {}
        }
    }

    /// Everything is sent: complete a pending close or `write_eof`.
    fn on_drained(&self) {
        if self.life.is_closing() {
            // close(), or write_eof() on a write pipe: closing the pipe is
            // its EOF.
            self.schedule_connection_lost(None);
        } else if self.eof_written.get() && !self.eof_sent.replace(true) {
            // A socket: ENOTCONN means the peer is already gone, and
            // connection_lost will follow from the read side.
            let _ = self.with_fd(sys::shutdown_write);
        }
        self.wake_drain_waiters();
    }

    pub(super) fn do_write_eof(&self) -> Result<()> {
        if self.kind == FdKind::ReadPipe {
            return Err(Error::Unsupported("write_eof on a read pipe"));
        }
        if self.eof_written.get() {
            return Err(Error::InvalidState("write_eof() already called".into()));
        }
        if self.life.is_closing() {
            return Err(Error::Closed);
        }
        if self.sendfile_active.get() {
            return Err(Error::SendfileInProgress);
        }
        self.eof_written.set(true);
        if self.kind == FdKind::WritePipe {
            // Closing the pipe is its EOF: as asyncio's write pipe, the
            // transport is closing from now on, even with data still
            // buffered (it is flushed first). The reader stays registered
            // until then, to notice the reading end going away.
            self.life.begin_close();
        }
        if self.wbuf.borrow().is_empty() && !self.writer_registered.get() {
            self.on_drained();
        }
        Ok(())
    }
}

/// A `sendfile` running over an [`FdTransport`]; see
/// [`FdTransport::begin_sendfile`].
pub(crate) struct SendfileGuard<'a>(&'a FdTransport);

impl Drop for SendfileGuard<'_> {
    fn drop(&mut self) {
        self.0.sendfile_active.set(false);
    }
}
