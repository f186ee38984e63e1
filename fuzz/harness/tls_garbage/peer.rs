//! The peer of the TLS adapter under test: a plain protocol on the other
//! end of the socket pair. It either sends raw bytes the driver gives it
//! (garbage mode) or runs a real rustls connection of the opposite role
//! whose output it corrupts on the way out (flipped bytes, inserted
//! bytes, a cut) at offsets the script chose — so the adapter sees garbage
//! after a valid handshake start, in the middle of the handshake, or in
//! records after it.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;

use loop_transports::rustls::{self, ClientConnection, Connection, ServerConnection};
use loop_transports::{BaseProtocol, Error, Protocol, TransportRef};

use super::pki::{SERVER_NAME, Ver, client_config, server_config};

/// A change to the peer's clean output stream, at a byte offset into it.
#[derive(Clone, Debug)]
pub enum Fault {
    /// XOR the byte at `at` with `xor` (not 0).
    Flip { at: usize, xor: u8 },
    /// Insert `bytes` before the byte at `at`.
    Insert { at: usize, bytes: Vec<u8> },
    /// Send nothing from `at` on.
    Cut { at: usize },
}

impl Fault {
    fn at(&self) -> usize {
        match self {
            Fault::Flip { at, .. } | Fault::Insert { at, .. } | Fault::Cut { at } => *at,
        }
    }
}

/// What the peer records.
#[derive(Default)]
pub struct PeerLog {
    /// Bytes received from the adapter (ciphertext).
    pub received: usize,
    /// Bytes written to the adapter.
    pub sent: usize,
    /// Plaintext the peer's TLS sent (what the adapter's application may
    /// receive, in order).
    pub plain_sent: Vec<u8>,
    /// Plaintext the peer's TLS decrypted (what the adapter's application
    /// wrote, in order).
    pub plain_got: Vec<u8>,
    /// Faults that changed the output.
    pub faults_applied: usize,
    /// The peer's TLS completed its handshake.
    pub handshake_done: bool,
    /// rustls refused what the adapter sent.
    pub tls_error: Option<rustls::Error>,
    /// `connection_lost` ran.
    pub lost: bool,
}

impl std::fmt::Debug for PeerLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerLog")
            .field("received", &self.received)
            .field("sent", &self.sent)
            .field("plain_sent", &self.plain_sent.len())
            .field("plain_got", &self.plain_got.len())
            .field("faults_applied", &self.faults_applied)
            .field("handshake_done", &self.handshake_done)
            .field("tls_error", &self.tls_error)
            .field("lost", &self.lost)
            .finish()
    }
}

/// The peer protocol. Its log is shared with the driver.
pub struct Peer {
    pub log: Rc<RefCell<PeerLog>>,
    t: Option<TransportRef>,
    conn: Option<Connection>,
    /// Faults not yet reached, by offset.
    faults: Vec<Fault>,
    /// Offset of the next clean output byte.
    offset: usize,
    cut: bool,
    /// Plaintext to send once the handshake completed.
    data: Vec<u8>,
    /// Answer the adapter's close_notify with one.
    answer_close_notify: bool,
    armed: bool,
}

impl Peer {
    /// A peer; with `real`, a rustls connection with versions `ver`
    /// (`client`: the peer is the TLS client).
    pub fn new(real: Option<(bool, Ver)>, mut faults: Vec<Fault>, data: Vec<u8>) -> Peer {
        let conn = real.map(|(client, ver)| {
            if client {
                let name = rustls::pki_types::ServerName::try_from(SERVER_NAME)
                    .expect("a valid server name");
                let c = ClientConnection::new(client_config(ver), name).expect("a client");
                Connection::Client(c)
            } else {
                Connection::Server(ServerConnection::new(server_config(ver)).expect("a server"))
            }
        });
        faults.sort_by_key(Fault::at);
        Peer {
            log: Rc::default(),
            t: None,
            conn,
            faults,
            offset: 0,
            cut: false,
            data,
            answer_close_notify: true,
            armed: false,
        }
    }

    /// Hold mode: never answer close_notify.
    pub fn hold(&mut self) {
        self.answer_close_notify = false;
    }

    /// The adapter is attached: a client peer sends its hello.
    pub fn arm(&mut self) {
        self.armed = true;
        self.flush();
    }

    /// Whether [`arm`](Peer::arm) was called.
    pub fn armed(&self) -> bool {
        self.armed
    }

    /// The transport, once connected.
    pub fn transport(&self) -> Option<TransportRef> {
        self.t.clone()
    }

    /// Writes `bytes` as they are (garbage mode).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        if let Some(t) = &self.t
            && t.write(bytes).is_ok()
        {
            self.log.borrow_mut().sent += bytes.len();
        }
    }

    /// Sends close_notify (real mode).
    pub fn notify(&mut self) {
        if let Some(conn) = &mut self.conn {
            conn.send_close_notify();
        }
        self.flush();
    }

    /// Sends EOF.
    pub fn write_eof(&mut self) {
        if let Some(t) = &self.t {
            let _ = t.write_eof();
        }
    }

    /// Sends what rustls has to send, through the faults.
    fn flush(&mut self) {
        if !self.armed {
            return;
        }
        let Some(conn) = &mut self.conn else { return };
        let mut clean = Vec::new();
        while conn.wants_write() {
            if conn.write_tls(&mut clean).is_err() {
                break;
            }
        }
        if clean.is_empty() || self.cut {
            return;
        }
        let mut out = Vec::with_capacity(clean.len());
        let mut applied = 0;
        for b in clean {
            let at = self.offset;
            self.offset += 1;
            let mut b = Some(b);
            while self.faults.first().is_some_and(|f| f.at() == at) {
                match self.faults.remove(0) {
                    Fault::Flip { xor, .. } => b = b.map(|b| b ^ xor),
                    Fault::Insert { bytes, .. } => out.extend_from_slice(&bytes),
                    Fault::Cut { .. } => {
                        self.cut = true;
                        b = None;
                    }
                }
                applied += 1;
            }
            if self.cut {
                break;
            }
            out.extend(b);
        }
        self.log.borrow_mut().faults_applied += applied;
        self.send_raw(&out);
    }

    /// Reads the plaintext rustls decrypted; sends the peer's data once
    /// the handshake completed.
    fn after_input(&mut self) {
        let Some(conn) = &mut self.conn else { return };
        let mut closed = false;
        let mut buf = [0u8; 4096];
        loop {
            match conn.reader().read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => self.log.borrow_mut().plain_got.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        if !conn.is_handshaking() && !self.log.borrow().handshake_done {
            self.log.borrow_mut().handshake_done = true;
            let data = std::mem::take(&mut self.data);
            if conn.writer().write_all(&data).is_ok() {
                self.log.borrow_mut().plain_sent.extend_from_slice(&data);
            }
        }
        if closed && self.answer_close_notify {
            conn.send_close_notify();
        }
        self.flush();
    }
}

impl BaseProtocol for Peer {
    fn connection_made(&mut self, t: TransportRef) {
        self.t = Some(t);
        self.flush();
    }

    fn connection_lost(&mut self, _: Option<Error>) {
        self.log.borrow_mut().lost = true;
        self.t = None;
    }
}

impl Protocol for Peer {
    fn data_received(&mut self, mut data: &[u8]) {
        self.log.borrow_mut().received += data.len();
        let Some(conn) = &mut self.conn else { return };
        if self.log.borrow().tls_error.is_some() {
            return;
        }
        while !data.is_empty() {
            if !matches!(conn.read_tls(&mut data), Ok(n) if n > 0) {
                break;
            }
            if let Err(e) = conn.process_new_packets() {
                // Send the alert rustls queued, then hang up.
                self.log.borrow_mut().tls_error = Some(e);
                self.flush();
                if let Some(t) = &self.t {
                    t.close();
                }
                return;
            }
        }
        self.after_input();
    }

    fn eof_received(&mut self) -> bool {
        false
    }
}
