//! The outbound path of the TLS layer. Application writes of one loop
//! iteration are encrypted together before the loop polls — as the
//! transports coalesce plain writes — so they become the fewest records
//! (up to 16 KiB each) and one write beneath, which the transport beneath
//! flushes in the same phase. Small writes are queued as plaintext (so
//! that several make one record); a write of a record or more is
//! encrypted at once, straight from the caller's slices. Ciphertext goes
//! beneath straight from rustls' buffers (one vectored write, no copy).
//! Handshake messages, alerts and close_notify are written beneath at once
//! (after the queued plaintext, for close_notify).

use std::io::{self, IoSlice, Write};

use super::layer::TlsTransport;
use crate::error::Result;
use crate::transport::Lower;

/// Writes at least this large skip the plaintext queue: they fill records
/// by themselves.
const ENCRYPT_DIRECT: usize = 16 * 1024;

/// Once this much is waiting (queued plaintext or unsent ciphertext), it
/// is encrypted and written beneath at once rather than at the end of the
/// iteration, so one iteration's writes do not pile up.
pub(super) const ENCRYPT_AT: usize = 256 * 1024;

impl TlsTransport {
    /// Takes application plaintext (the transport is open and past its
    /// handshake): queued or encrypted, and written beneath at the end of
    /// the iteration (or now, past [`ENCRYPT_AT`]).
    pub(super) fn queue_plaintext(&self, bufs: &[&[u8]]) -> Result<()> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok(());
        }
        if total >= ENCRYPT_DIRECT {
            // The queue first, to keep the order.
            self.encrypt_queued();
            {
                let mut conn = self.conn.borrow_mut();
                let mut w = conn.writer();
                for b in bufs {
                    w.write_all(b)?;
                }
            }
            self.unsent.set(self.unsent.get() + total);
        } else {
            let mut q = self.plain_out.borrow_mut();
            for b in bufs {
                q.extend_from_slice(b);
            }
        }
        if self.unsent.get() + self.plain_out.borrow().len() >= ENCRYPT_AT {
            self.encrypt_queued();
            self.pump_out();
        } else {
            self.schedule_encrypt();
        }
        Ok(())
    }

    /// Registers the end-of-iteration encryption (once per iteration), then
    /// asks the transport beneath to flush after it, so the records leave
    /// in this iteration's flush.
    pub(super) fn schedule_encrypt(&self) {
        if self.encrypt_scheduled.replace(true) {
            return;
        }
        if self.lp.call_before_poll_handle(&self.encrypt_handle).is_err() {
            // The loop is closing: no later iteration to wait for.
            self.encrypt_scheduled.set(false);
            self.encrypt_queued();
            return self.pump_out();
        }
        if let Some(l) = self.lower() {
            l.flush_soon();
        }
    }

    /// The end-of-iteration callback.
    pub(super) fn on_before_poll(&self) {
        self.encrypt_scheduled.set(false);
        if self.life.is_closing() && !self.shutting_down.get() {
            // Aborted or failed: nothing more is sent. (A graceful close
            // encrypted and sent everything before its close_notify.)
            self.plain_out.borrow_mut().clear();
            return;
        }
        self.encrypt_queued();
        self.pump_out();
    }

    /// Hands the queued plaintext to rustls (encrypted into records that
    /// the next [`pump_out`](Self::pump_out) writes beneath).
    pub(super) fn encrypt_queued(&self) {
        let written = {
            let mut q = self.plain_out.borrow_mut();
            if q.is_empty() {
                return;
            }
            let r = self.conn.borrow_mut().writer().write_all(&q);
            self.unsent.set(self.unsent.get() + q.len());
            q.clear();
            if q.capacity() > ENCRYPT_AT {
                q.shrink_to(ENCRYPT_DIRECT);
            }
            r
        };
        if let Err(e) = written {
            self.tls_failed(rustls::Error::General(format!("encrypting: {e}")));
        }
    }

    /// Writes what rustls has to send (records, handshake messages,
    /// alerts) beneath, straight from its buffers.
    pub(super) fn pump_out(&self) {
        let Some(lower) = self.lower() else { return };
        self.unsent.set(0);
        let mut conn = self.conn.borrow_mut();
        let mut beneath = Beneath(&*lower);
        while conn.wants_write() {
            if conn.write_tls(&mut beneath).is_err() {
                break;
            }
        }
    }
}

/// The transport beneath as an `io::Write` for `write_tls`: it takes every
/// byte (buffering what the socket refuses), in one vectored write per
/// call.
struct Beneath<'a>(&'a dyn Lower);

impl Write for Beneath<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut stack: [&[u8]; 64] = [&[]; 64];
        let n = bufs.len().min(stack.len());
        for (slot, b) in stack.iter_mut().zip(bufs) {
            *slot = b;
        }
        let total = stack[..n].iter().map(|b| b.len()).sum();
        // A transport that is gone reports it through connection_lost;
        // the bytes are moot then.
        let _ = self.0.write(&stack[..n]);
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
