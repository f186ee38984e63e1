//! The outbound path of the TLS layer. Application writes of one loop
//! iteration are queued as plaintext and encrypted together before the
//! loop polls — as the transports coalesce plain writes — so they become
//! the fewest records (up to 16 KiB each) and one write beneath, which the
//! transport beneath flushes in the same phase. Handshake messages, alerts
//! and close_notify are written beneath at once (after the queued
//! plaintext, for close_notify).

use std::io::Write;

use super::layer::TlsTransport;
use crate::error::Result;

/// Queued plaintext of at least this size is encrypted at once rather than
/// at the end of the iteration: it already fills many records, and the
/// queue stays bounded.
pub(super) const ENCRYPT_AT: usize = 256 * 1024;

impl TlsTransport {
    /// Queues application plaintext (the transport is open and past its
    /// handshake): encrypted at the end of the iteration, or now once
    /// [`ENCRYPT_AT`] bytes are queued.
    pub(super) fn queue_plaintext(&self, bufs: &[&[u8]]) -> Result<()> {
        let queued = {
            let mut q = self.plain_out.borrow_mut();
            for b in bufs {
                q.extend_from_slice(b);
            }
            q.len()
        };
        if queued >= ENCRYPT_AT {
            self.encrypt_queued();
        } else if queued > 0 {
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
            return self.encrypt_queued();
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
            // encrypted the queue before its close_notify.)
            self.plain_out.borrow_mut().clear();
            return;
        }
        self.encrypt_queued();
    }

    /// Encrypts the queued plaintext and writes the records beneath.
    pub(super) fn encrypt_queued(&self) {
        let written = {
            let mut q = self.plain_out.borrow_mut();
            if q.is_empty() {
                return;
            }
            let r = self.conn.borrow_mut().writer().write_all(&q);
            q.clear();
            if q.capacity() > 2 * ENCRYPT_AT {
                q.shrink_to(64 * 1024);
            }
            r
        };
        match written {
            Ok(()) => self.pump_out(),
            Err(e) => self.tls_failed(rustls::Error::General(format!("encrypting: {e}"))),
        }
    }

    /// Sends what rustls has to send (records, handshake messages, alerts)
    /// beneath, in one write.
    pub(super) fn pump_out(&self) {
        let mut out = self.out.borrow_mut();
        {
            let mut conn = self.conn.borrow_mut();
            while conn.wants_write() {
                if conn.write_tls(&mut *out).is_err() {
                    break;
                }
            }
        }
        if out.is_empty() {
            return;
        }
        if let Some(l) = self.lower() {
            // A lower transport that is gone reports it through
            // connection_lost; the bytes are moot then.
            let _ = l.write(&out);
        }
        out.clear();
        if out.capacity() > 1024 * 1024 {
            out.shrink_to(64 * 1024);
        }
    }
}
