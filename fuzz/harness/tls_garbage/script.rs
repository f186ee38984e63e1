//! The script of the TLS harness, decoded from fuzz bytes: which side the
//! adapter plays and how it is set up, the protocol versions of both
//! sides, what the peer sends (raw garbage, or a real handshake with
//! faults), what each side sends once connected, and how each side ends.

use super::cursor::Cursor;
use super::peer::Fault;
use super::pki::Ver;

/// The adapter's side of the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// How the adapter is put on the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// `create_unix_connection_tls` (client) or
    /// `connect_accepted_socket_tls` (server).
    Factory,
    /// `connect_accepted_socket`, then `start_tls`.
    StartTls,
}

/// What the peer sends.
#[derive(Clone, Debug)]
pub enum Mode {
    /// These chunks, each in its own loop iteration, no TLS at all.
    Raw(Vec<Vec<u8>>),
    /// A real TLS peer whose output goes through these faults.
    Real(Vec<Fault>),
}

/// How the peer ends once the exchange went quiet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerEnd {
    /// `write_eof`.
    Eof,
    /// `close` (no close_notify).
    Close,
    /// close_notify, then `write_eof`.
    Notify,
    /// close_notify only: the socket stays open, the adapter must close.
    NotifyOnly,
    /// Nothing: it waits for the adapter, and never answers close_notify.
    Hold,
}

/// How the application ends once the exchange went quiet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnd {
    Nothing,
    Close,
    Abort,
}

/// One run of the TLS harness.
#[derive(Clone, Debug)]
pub struct Script {
    pub side: Side,
    pub entry: Entry,
    pub ours: Ver,
    pub theirs: Ver,
    pub mode: Mode,
    /// Plaintext the application writes once connected.
    pub app_data: usize,
    /// Plaintext the peer sends once its handshake completed.
    pub peer_data: usize,
    /// The application pauses reading at its first data (and resumes
    /// when the exchange went quiet).
    pub pause: bool,
    pub peer_end: PeerEnd,
    pub app_end: AppEnd,
}

const VERSIONS: &[Ver] = &[Ver::Both, Ver::Both, Ver::V12, Ver::V13];
const SIZES: &[usize] = &[0, 1, 100, 3000, 17_000];

/// Record headers a garbage chunk may start with (handshake, application
/// data, alert, change cipher spec), so a short input reaches past the
/// record layer.
const HEADERS: &[&[u8]] = &[
    &[],
    &[0x16, 0x03, 0x01],
    &[0x16, 0x03, 0x03],
    &[0x17, 0x03, 0x03],
    &[0x15, 0x03, 0x03],
    &[0x14, 0x03, 0x03],
];

/// Decodes a script; every input decodes to one.
pub fn decode(data: &[u8]) -> Script {
    let mut c = Cursor::new(data);
    let b = c.byte();
    let side = if b & 1 == 0 { Side::Client } else { Side::Server };
    let entry = if b & 2 == 0 { Entry::Factory } else { Entry::StartTls };
    let pause = b & 4 != 0;
    let v = c.byte();
    let (ours, theirs) = (VERSIONS[usize::from(v & 3)], VERSIONS[usize::from((v >> 2) & 3)]);
    let e = c.byte();
    let peer_end =
        [PeerEnd::Eof, PeerEnd::Close, PeerEnd::Notify, PeerEnd::Hold][usize::from(e & 3)];
    let app_end = [AppEnd::Nothing, AppEnd::Close, AppEnd::Abort][usize::from((e >> 2) % 3)];
    let app_data = c.pick(SIZES);
    let peer_data = c.pick(SIZES);
    let mode =
        if c.byte() & 3 == 0 { Mode::Raw(chunks(&mut c)) } else { Mode::Real(faults(&mut c)) };
    Script { side, entry, ours, theirs, mode, app_data, peer_data, pause, peer_end, app_end }
}

fn faults(c: &mut Cursor<'_>) -> Vec<Fault> {
    (0..c.byte() % 4)
        .map(|_| {
            let kind = c.byte();
            // Offsets cover the handshake flights (a few KiB) and the
            // first records after them.
            let at = usize::from(c.u16()) % 8192;
            match kind % 4 {
                0 | 1 => Fault::Flip { at, xor: c.byte().max(1) },
                2 => Fault::Insert { at, bytes: c.bytes(64) },
                _ => Fault::Cut { at },
            }
        })
        .collect()
}

fn chunks(c: &mut Cursor<'_>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !c.is_empty() && out.len() < 16 {
        let mut chunk = c.pick(HEADERS).to_vec();
        if !chunk.is_empty() {
            chunk.extend_from_slice(&c.u16().to_be_bytes());
        }
        chunk.extend(c.bytes(255));
        out.push(chunk);
    }
    out
}
