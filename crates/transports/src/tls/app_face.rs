//! The application's face of [`TlsTransport`]: the transport traits, the
//! TLS extra information, and the access a further layer (TLS in TLS) has
//! to it.

use std::any::Any;
use std::fmt;
use std::rc::{Rc, Weak};

use rustls::Connection;

use super::layer::TlsTransport;
use crate::error::{Error, Result};
use crate::protocol::StreamProtocolRef;
use crate::transport::{
    BaseTransport, ExtraInfo, ExtraKey, Lower, ReadTransport, Transport, TransportRef,
    WriteBufferLimits, WriteTransport,
};

impl TlsTransport {
    fn raw_close(&self) {
        if self.life.is_closing() {
            return;
        }
        if self.handshaking.get() {
            // Nothing was said yet worth a close_notify: abort quietly.
            self.fail(Error::Closed);
            return;
        }
        self.start_shutdown();
    }

    fn raw_abort(&self) {
        if self.life.is_losing() {
            return;
        }
        self.life.begin_close();
        self.fail_waiter(&Error::Closed);
        self.cancel_timer();
        self.abort_lower();
    }

    fn raw_pause_reading(&self) {
        if self.life.is_closing() || self.reading_paused.replace(true) {
            return;
        }
        if let Some(l) = self.lower() {
            l.pause_reading();
        }
    }

    fn raw_resume_reading(&self) {
        if self.life.is_closing() || !self.reading_paused.replace(false) {
            return;
        }
        if self.resume_scheduled.replace(true) {
            return;
        }
        // Deliver what was held back from the loop, never from inside
        // this call; then read from below again.
        let weak = self.me.clone();
        let scheduled = self.lp.call_soon(move || {
            let Some(me) = weak.upgrade() else { return };
            me.resume_scheduled.set(false);
            if me.reading_paused.get() || me.life.is_losing() {
                return;
            }
            let pending = std::mem::take(&mut *me.pending_in.borrow_mut());
            me.process(&pending);
            if !me.reading_paused.get() && me.pending_in.borrow().is_empty() {
                if let Some(l) = me.lower() {
                    l.resume_reading();
                }
            }
        });
        if scheduled.is_err() {
            self.resume_scheduled.set(false);
        }
    }

    fn raw_write(&self, bufs: &[&[u8]]) -> Result<()> {
        if self.life.is_closing() {
            return Err(Error::Closed);
        }
        if self.handshaking.get() {
            return Err(Error::InvalidState("the TLS handshake has not completed".into()));
        }
        self.queue_plaintext(bufs)
    }

    /// This transport as the lower half of another layer (TLS in TLS).
    pub(crate) fn as_lower(&self) -> Option<Rc<dyn Lower>> {
        self.me.upgrade().map(|rc| Rc::new(TlsLower(rc)) as Rc<dyn Lower>)
    }

    fn tls_info(&self, key: ExtraKey) -> Option<ExtraInfo> {
        let conn = self.conn.borrow();
        match key {
            ExtraKey::PeerCert => conn
                .peer_certificates()
                .map(|certs| ExtraInfo::Bytes(certs.iter().map(|c| c.as_ref().to_vec()).collect())),
            ExtraKey::Cipher => {
                conn.negotiated_cipher_suite().map(|s| ExtraInfo::Text(format!("{:?}", s.suite())))
            }
            ExtraKey::TlsVersion => {
                conn.protocol_version().map(|v| ExtraInfo::Text(version_name(v)))
            }
            ExtraKey::Alpn => conn
                .alpn_protocol()
                .map(|p| ExtraInfo::Text(String::from_utf8_lossy(p).into_owned())),
            ExtraKey::Compression => None,
            ExtraKey::ServerHostname => match &*conn {
                Connection::Server(s) => s.server_name().map(|n| ExtraInfo::Text(n.to_owned())),
                Connection::Client(_) => self.sni.clone().map(ExtraInfo::Text),
            },
            _ => self.lower().and_then(|l| l.face().extra_info(key)),
        }
    }
}

/// asyncio's names for the versions (`ssl.SSLObject.version()`).
fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    }
}

impl BaseTransport for TlsTransport {
    /// Sends close_notify after the data already written, then waits for
    /// the peer's close_notify (at most the shutdown timeout, then aborts)
    /// and closes the transport beneath; `connection_lost` follows. During
    /// the handshake, closes at once without sending anything.
    fn close(&self) {
        match self.owner.get() {
            Some(owner) => owner.close(),
            None if self.owner.is_owned() => {}
            None => self.raw_close(),
        }
    }

    fn is_closing(&self) -> bool {
        self.life.is_closing()
    }

    fn extra_info(&self, key: ExtraKey) -> Option<ExtraInfo> {
        self.tls_info(key)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn get_loop(&self) -> loop_core::Loop {
        self.lp.clone()
    }
}

impl ReadTransport for TlsTransport {
    fn is_reading(&self) -> bool {
        !self.reading_paused.get() && !self.life.is_closing()
    }

    fn pause_reading(&self) {
        match self.owner.get() {
            Some(owner) => owner.pause_reading(),
            None if self.owner.is_owned() => {}
            None => self.raw_pause_reading(),
        }
    }

    fn resume_reading(&self) {
        match self.owner.get() {
            Some(owner) => owner.resume_reading(),
            None if self.owner.is_owned() => {}
            None => self.raw_resume_reading(),
        }
    }
}

impl WriteTransport for TlsTransport {
    fn write(&self, data: &[u8]) -> Result<()> {
        if self.owner.is_owned() {
            return Err(crate::transport::upgraded());
        }
        self.raw_write(&[data])
    }

    fn writelines(&self, bufs: &[&[u8]]) -> Result<()> {
        if self.owner.is_owned() {
            return Err(crate::transport::upgraded());
        }
        self.raw_write(bufs)
    }

    /// TLS has no half-close.
    ///
    /// # Errors
    ///
    /// Always [`Error::Unsupported`].
    fn write_eof(&self) -> Result<()> {
        Err(Error::Unsupported("write_eof on a TLS transport: TLS has no half-close"))
    }

    fn can_write_eof(&self) -> bool {
        false
    }

    /// Closes at once: nothing more is sent (no close_notify), buffered
    /// data is dropped.
    fn abort(&self) {
        match self.owner.get() {
            Some(owner) => owner.abort(),
            None if self.owner.is_owned() => {}
            None => self.raw_abort(),
        }
    }

    /// Ciphertext buffered in the transport beneath, plus the plaintext
    /// written in this loop iteration and not yet written beneath.
    fn get_write_buffer_size(&self) -> usize {
        let beneath = self.lower().map_or(0, |l| l.face().get_write_buffer_size());
        beneath + self.plain_out.borrow().len() + self.unsent.get()
    }

    fn get_write_buffer_limits(&self) -> WriteBufferLimits {
        self.lower().map_or_else(WriteBufferLimits::default, |l| l.face().get_write_buffer_limits())
    }

    /// The marks of the transport beneath: they count ciphertext.
    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        if self.owner.is_owned() {
            return Err(crate::transport::upgraded());
        }
        match self.lower() {
            Some(l) => l.set_write_buffer_limits(high, low),
            None => WriteBufferLimits::new(high, low).map(|_| ()),
        }
    }
}

impl Transport for TlsTransport {
    fn set_protocol(&self, protocol: StreamProtocolRef) {
        if !self.owner.is_owned() && !self.life.is_released() {
            *self.app.borrow_mut() = Some(protocol);
        }
    }

    fn get_protocol(&self) -> Option<StreamProtocolRef> {
        self.app.borrow().clone()
    }
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match &*self.conn.borrow() {
            Connection::Client(_) => "client",
            Connection::Server(_) => "server",
        };
        f.debug_struct("TlsTransport")
            .field("side", &side)
            .field("phase", &self.life.phase())
            .field("handshaking", &self.handshaking.get())
            .finish()
    }
}

/// A [`TlsTransport`] beneath another layer.
struct TlsLower(Rc<TlsTransport>);

impl Lower for TlsLower {
    fn adopt(&self, owner: Weak<dyn Transport>, shim: StreamProtocolRef) {
        if !self.0.life.is_released() {
            *self.0.app.borrow_mut() = Some(shim);
        }
        self.0.owner.set(owner);
    }
    fn write(&self, bufs: &[&[u8]]) -> Result<()> {
        self.0.raw_write(bufs)
    }
    fn close(&self) {
        self.0.raw_close();
    }
    fn abort(&self) {
        self.0.raw_abort();
    }
    fn pause_reading(&self) {
        self.0.raw_pause_reading();
    }
    fn resume_reading(&self) {
        self.0.raw_resume_reading();
    }
    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        match self.0.lower() {
            Some(l) => l.set_write_buffer_limits(high, low),
            None => WriteBufferLimits::new(high, low).map(|_| ()),
        }
    }
    fn flush_soon(&self) {
        self.0.schedule_encrypt();
    }
    fn face(&self) -> TransportRef {
        self.0.clone()
    }
}
