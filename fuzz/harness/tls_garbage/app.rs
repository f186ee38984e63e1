//! The application protocol over the TLS adapter: it records every
//! callback in order, writes its data once connected (factory path), and
//! may pause reading at the first data it gets.

use std::cell::RefCell;
use std::rc::Rc;

use loop_transports::{BaseProtocol, Error, Protocol, TransportRef};

/// One protocol callback.
#[derive(Debug)]
pub enum Event {
    Made,
    Data(usize),
    Eof,
    Lost(Option<Error>),
    PauseWriting,
    ResumeWriting,
}

/// What the application records; shared with the driver.
#[derive(Default)]
pub struct AppLog {
    pub events: Vec<Event>,
    /// Plaintext received, in order.
    pub got: Vec<u8>,
    /// Plaintext accepted by `write`, in order.
    pub written: Vec<u8>,
    /// The TLS transport, once known (its `connection_made`, or what
    /// `start_tls` returned).
    pub tls: Option<TransportRef>,
    /// Reading was paused by the application.
    pub paused: bool,
}

impl std::fmt::Debug for AppLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppLog")
            .field("events", &self.events)
            .field("got", &self.got.len())
            .field("written", &self.written.len())
            .field("paused", &self.paused)
            .finish()
    }
}

impl AppLog {
    /// Writes `data` on the TLS transport.
    pub fn write(&mut self, data: &[u8]) {
        if let Some(t) = &self.tls
            && t.write(data).is_ok()
        {
            self.written.extend_from_slice(data);
        }
    }
}

/// The application protocol.
pub struct App {
    pub log: Rc<RefCell<AppLog>>,
    /// Written at `connection_made` (the factory path; with `start_tls`,
    /// `connection_made` gives the plain transport, and the driver writes
    /// once the upgrade returned).
    pub write_on_made: Option<Vec<u8>>,
    /// Pause reading at the first data (once).
    pub pause: bool,
}

impl BaseProtocol for App {
    fn connection_made(&mut self, t: TransportRef) {
        let mut log = self.log.borrow_mut();
        log.events.push(Event::Made);
        if let Some(data) = self.write_on_made.take() {
            log.tls = Some(t);
            log.write(&data);
        }
    }

    fn connection_lost(&mut self, error: Option<Error>) {
        self.log.borrow_mut().events.push(Event::Lost(error));
    }

    fn pause_writing(&mut self) {
        self.log.borrow_mut().events.push(Event::PauseWriting);
    }

    fn resume_writing(&mut self) {
        self.log.borrow_mut().events.push(Event::ResumeWriting);
    }
}

impl Protocol for App {
    fn data_received(&mut self, data: &[u8]) {
        let mut log = self.log.borrow_mut();
        log.events.push(Event::Data(data.len()));
        log.got.extend_from_slice(data);
        if self.pause
            && let Some(t) = &log.tls
        {
            t.pause_reading();
            log.paused = true;
            self.pause = false;
        }
    }

    fn eof_received(&mut self) -> bool {
        self.log.borrow_mut().events.push(Event::Eof);
        false
    }
}
