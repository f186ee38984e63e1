//! A fuzz harness for the TLS adapter (`loop_transports::tls`) fed garbage
//! as the peer's ciphertext, through public API only.
//!
//! Each input decodes into a [`Script`]: the adapter plays client
//! (`create_unix_connection_tls`) or server (`connect_accepted_socket_tls`),
//! or either side through `start_tls` on a plain transport, over one end
//! of a Unix socket pair on a `TestLoop` (virtual time: the 60 s handshake
//! and 30 s shutdown timeouts cost nothing). On the other end a [`Peer`]
//! sends raw garbage chunk by chunk, or runs a real rustls handshake of the
//! opposite role (any mix of TLS 1.2 and 1.3) whose output it corrupts at
//! offsets the script chose — bytes flipped, bytes inserted, the stream
//! cut — in the handshake or in the records after it. Then the exchange
//! runs until quiet, the application may resume reading, and both sides
//! end as scripted (EOF, close, close_notify, abort, or holding on).
//!
//! What must hold:
//!
//! * nothing panics (a panic in a callback reaches the exception handler,
//!   which fails the run) and nothing hangs: every side is done within
//!   one virtual hour and a bounded number of iterations;
//! * the adapter's outcome is typed: the factory or `start_tls` returns a
//!   TLS error (`TlsHandshake`, `TlsHandshakeEof`, `TlsHandshakeTimeout`)
//!   or a transport, and `connection_lost` gets `None` or a TLS error
//!   (`Tls`, `TlsShutdownTimeout`, …) — or a broken-pipe / reset I/O error;
//! * the callbacks come in order: `connection_made` (only after a
//!   completed handshake), data, at most one EOF with no data after it,
//!   `connection_lost` exactly once, nothing after it;
//! * no corrupted byte reaches either application: each side's plaintext
//!   is a prefix of what the other sent;
//! * buffering stays bounded: the adapter sends at most its application's
//!   bytes plus 64 KiB of handshake and alerts;
//! * no fd is left open once the loop is closed;
//! * without any fault and with versions in common, the handshake
//!   succeeds and every byte arrives both ways (so the harness cannot
//!   pass by breaking every connection).
//!
//! Shared by the cargo-fuzz target `tls_garbage` (fuzz/) and the
//! deterministic proptest run in tests/tests/fuzz_tls_garbage.rs.

#![allow(dead_code, unreachable_pub)]

#[path = "../cursor.rs"]
mod cursor;

mod app;
mod driver;
mod peer;
mod pki;
mod script;

// What the tests use to write scripts by hand (the fuzz target only
// decodes bytes).
#[allow(unused_imports)]
pub use self::driver::{Summary, run};
#[allow(unused_imports)]
pub use self::peer::Fault;
#[allow(unused_imports)]
pub use self::pki::Ver;
#[allow(unused_imports)]
pub use self::script::{AppEnd, Entry, Mode, PeerEnd, Script, Side, decode};

/// Decodes `data` into a script and runs it. Panics when a check fails.
pub fn run_bytes(data: &[u8]) -> Summary {
    run(&decode(data))
}
