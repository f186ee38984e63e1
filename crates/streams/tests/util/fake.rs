//! A transport that records what is asked of it (pause/resume reading,
//! close, write_eof) and reports a write-buffer size the test sets.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use loop_core::Loop;
use loop_transports::{
    BaseTransport, ExtraInfo, ExtraKey, ReadTransport, StreamProtocolRef, Transport, TransportRef,
    WriteBufferLimits, WriteTransport,
};

thread_local! {
    /// The loop every fake transport reports (`get_loop`); never run.
    static LOOP: Loop = Loop::new().expect("a loop for the fake transports");
}

/// A transport that records what is asked of it.
#[derive(Debug)]
pub struct Fake {
    lp: Loop,
    pub log: RefCell<Vec<&'static str>>,
    pub paused_reading: Cell<bool>,
    pub closing: Cell<bool>,
    pub buffered: Cell<usize>,
    pub written: RefCell<Vec<u8>>,
}

impl Fake {
    pub fn new() -> (Rc<Fake>, TransportRef) {
        let f = Rc::new(Fake {
            lp: LOOP.with(Loop::clone),
            log: RefCell::default(),
            paused_reading: Cell::default(),
            closing: Cell::default(),
            buffered: Cell::default(),
            written: RefCell::default(),
        });
        let t: TransportRef = f.clone();
        (f, t)
    }
    pub fn log(&self) -> Vec<&'static str> {
        self.log.borrow().clone()
    }
}

impl BaseTransport for Fake {
    fn close(&self) {
        self.log.borrow_mut().push("close");
        self.closing.set(true);
    }
    fn is_closing(&self) -> bool {
        self.closing.get()
    }
    fn extra_info(&self, key: ExtraKey) -> Option<ExtraInfo> {
        (key == ExtraKey::Socket).then_some(ExtraInfo::Fd(42))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn get_loop(&self) -> Loop {
        self.lp.clone()
    }
}

impl ReadTransport for Fake {
    fn is_reading(&self) -> bool {
        !self.paused_reading.get()
    }
    fn pause_reading(&self) {
        self.log.borrow_mut().push("pause");
        self.paused_reading.set(true);
    }
    fn resume_reading(&self) {
        self.log.borrow_mut().push("resume");
        self.paused_reading.set(false);
    }
}

impl WriteTransport for Fake {
    fn write(&self, data: &[u8]) -> loop_transports::Result<()> {
        if self.closing.get() {
            return Err(loop_transports::Error::Closed);
        }
        self.written.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn writelines(&self, bufs: &[&[u8]]) -> loop_transports::Result<()> {
        bufs.iter().try_for_each(|b| self.write(b))
    }
    fn write_eof(&self) -> loop_transports::Result<()> {
        self.log.borrow_mut().push("write_eof");
        Ok(())
    }
    fn can_write_eof(&self) -> bool {
        true
    }
    fn abort(&self) {
        self.close();
    }
    fn get_write_buffer_size(&self) -> usize {
        self.buffered.get()
    }
    fn get_write_buffer_limits(&self) -> WriteBufferLimits {
        WriteBufferLimits { low: 16, high: 64 }
    }
    fn set_write_buffer_limits(
        &self,
        _high: Option<usize>,
        _low: Option<usize>,
    ) -> loop_transports::Result<()> {
        Ok(())
    }
}

impl Transport for Fake {
    fn set_protocol(&self, _protocol: StreamProtocolRef) {}
    fn get_protocol(&self) -> Option<StreamProtocolRef> {
        None
    }
}
