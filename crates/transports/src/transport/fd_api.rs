//! The public face of [`FdTransport`]: the transport traits, each checking
//! first whether a layer (`start_tls`) took the transport over (see
//! `layered.rs`), and the layer's own access to it.

use std::any::Any;
use std::rc::Weak;

use super::fd_transport::{FdKind, FdTransport};
use super::flow::WriteBufferLimits;
use super::layered::{FdLower, Lower, upgraded};
use super::{
    BaseTransport, ExtraInfo, ExtraKey, ReadTransport, Transport, TransportRef, WriteTransport,
};
use crate::error::Result;
use crate::protocol::StreamProtocolRef;

impl FdTransport {
    pub(super) fn raw_close(&self) {
        if !self.life.begin_close() {
            return;
        }
        self.remove_reader();
        if self.wbuf.borrow().is_empty() {
            self.schedule_connection_lost(None);
        }
        // Otherwise the flush or the writer sends the rest, then schedules
        // connection_lost.
    }

    fn raw_pause_reading(&self) {
        if self.kind == FdKind::WritePipe
            || self.life.is_closing()
            || self.reading_paused.replace(true)
        {
            return;
        }
        self.remove_reader();
    }

    fn raw_resume_reading(&self) {
        if self.kind == FdKind::WritePipe
            || self.life.is_closing()
            || !self.reading_paused.replace(false)
        {
            return;
        }
        if self.life.made() && !self.eof_received.get() {
            self.add_reader();
        }
    }

    fn raw_set_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        let limits = WriteBufferLimits::new(high, low)?;
        let mut fc = self.flow.get();
        fc.limits = limits;
        self.flow.set(fc);
        // Re-evaluate at the end of the batch, never from inside this call.
        self.schedule_flush(true);
        Ok(())
    }

    fn raw_set_protocol(&self, protocol: StreamProtocolRef) {
        if self.life.is_released() {
            return;
        }
        *self.protocol.borrow_mut() = Some(protocol);
    }

    /// Public writes are refused once a layer owns the transport.
    fn checked_write(&self, bufs: &[&[u8]]) -> Result<()> {
        if self.owner.is_owned() {
            return Err(upgraded());
        }
        self.do_write(bufs)
    }
}

impl BaseTransport for FdTransport {
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
        let open = self.fd.borrow().is_some();
        match (key, self.kind) {
            (ExtraKey::PeerName, _) => self.peer.clone().map(ExtraInfo::Address),
            (ExtraKey::SockName, _) => self.local.clone().map(ExtraInfo::Address),
            (ExtraKey::Socket, FdKind::Socket) if open => Some(ExtraInfo::Fd(self.raw)),
            (ExtraKey::Pipe, FdKind::ReadPipe | FdKind::WritePipe) if open => {
                Some(ExtraInfo::Fd(self.raw))
            }
            _ => None,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn get_loop(&self) -> loop_core::Loop {
        self.lp.clone()
    }
}

impl ReadTransport for FdTransport {
    fn is_reading(&self) -> bool {
        self.kind != FdKind::WritePipe && !self.reading_paused.get() && !self.life.is_closing()
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

impl WriteTransport for FdTransport {
    fn write(&self, data: &[u8]) -> Result<()> {
        self.checked_write(&[data])
    }

    fn writelines(&self, bufs: &[&[u8]]) -> Result<()> {
        self.checked_write(bufs)
    }

    fn write_eof(&self) -> Result<()> {
        if self.owner.is_owned() {
            return Err(upgraded());
        }
        self.do_write_eof()
    }

    fn can_write_eof(&self) -> bool {
        self.kind != FdKind::ReadPipe && !self.owner.is_owned()
    }

    fn abort(&self) {
        match self.owner.get() {
            Some(owner) => owner.abort(),
            None if self.owner.is_owned() => {}
            None => self.force_close(None),
        }
    }

    fn get_write_buffer_size(&self) -> usize {
        self.wbuf.borrow().len()
    }

    fn get_write_buffer_limits(&self) -> WriteBufferLimits {
        self.flow.get().limits
    }

    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        match self.owner.get() {
            Some(owner) => owner.set_write_buffer_limits(high, low),
            None if self.owner.is_owned() => Err(upgraded()),
            None => self.raw_set_limits(high, low),
        }
    }
}

impl Transport for FdTransport {
    fn set_protocol(&self, protocol: StreamProtocolRef) {
        if !self.owner.is_owned() {
            self.raw_set_protocol(protocol);
        }
    }

    fn get_protocol(&self) -> Option<StreamProtocolRef> {
        self.protocol.borrow().clone()
    }
}

impl Lower for FdLower {
    fn adopt(&self, owner: Weak<dyn Transport>, shim: StreamProtocolRef) {
        self.0.raw_set_protocol(shim);
        self.0.owner.set(owner);
    }
    fn write(&self, bufs: &[&[u8]]) -> Result<()> {
        self.0.do_write(bufs)
    }
    fn close(&self) {
        self.0.raw_close();
    }
    fn abort(&self) {
        self.0.force_close(None);
    }
    fn pause_reading(&self) {
        self.0.raw_pause_reading();
    }
    fn resume_reading(&self) {
        self.0.raw_resume_reading();
    }
    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        self.0.raw_set_limits(high, low)
    }
    fn flush_soon(&self) {
        self.0.schedule_flush(true);
    }
    fn face(&self) -> TransportRef {
        self.0.clone()
    }
}
