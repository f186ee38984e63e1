//! asyncio's streams on tulip's event loop: [`StreamReader`] /
//! [`StreamWriter`] and the factories that make them.
//!
//! `loop-streams` provides the high-level, async/await face of a
//! connection: [`open_connection`] and [`start_server`] (and their Unix
//! siblings) give a reader with `read`, `readline`, `readexactly` and
//! `readuntil`, and a writer with `write`, `drain`, `close` and
//! `wait_closed`, with asyncio's semantics (see each method). Each factory
//! speaks TLS with its options' `with_tls`, and
//! [`StreamWriter::start_tls`] upgrades a live connection (STARTTLS). The reader
//! implements `futures-io`'s `AsyncRead` and `AsyncBufRead`, the writer
//! `AsyncWrite`, so ecosystem codecs and protocols run on tulip. It builds
//! on `loop-transports`' public API (the protocol traits, `NetExt`,
//! `TransportRef`) and `loop-core`'s [`Loop`](loop_core::Loop) only.
//!
//! # Implementation
//!
//! Everything runs on the loop's thread. A [`StreamReaderProtocol`] sits on
//! the transport: it copies each received chunk into the reader's buffer
//! and wakes the one read waiting for data; it forwards `pause_writing` /
//! `resume_writing` to the writer's `drain`. The reader pauses the
//! transport (`pause_reading`) when more than 2 × `limit` bytes are
//! buffered and resumes it when the buffer is back at or below `limit`.
//! Reads wait with wakers only: a reader fed by hand works under any
//! executor.
//!
//! # Examples
//!
//! An echo server and a client, with streams:
//!
//! ```
//! use loop_core::Loop;
//! use loop_streams::{StreamConnectOptions, StreamServerOptions, open_connection, start_server};
//!
//! let lp = Loop::new()?;
//! let reply = lp.run_until_complete(async {
//!     let server = start_server(
//!         |reader, writer| async move {
//!             loop {
//!                 let line = reader.readline().await?;
//!                 if line.is_empty() {
//!                     break; // EOF
//!                 }
//!                 writer.write(&line)?;
//!                 writer.drain().await?;
//!             }
//!             writer.close();
//!             Ok::<(), loop_streams::Error>(())
//!         },
//!         "127.0.0.1",
//!         0,
//!         StreamServerOptions::default(),
//!     )
//!     .await?;
//!     let port = server.addresses()[0].port().unwrap();
//!
//!     let (reader, writer) =
//!         open_connection("127.0.0.1", port, StreamConnectOptions::default()).await?;
//!     writer.write(b"hello\n")?;
//!     writer.drain().await?;
//!     let reply = reader.readline().await?;
//!     writer.close();
//!     writer.wait_closed().await?;
//!     server.close();
//!     Ok::<_, loop_streams::Error>(reply)
//! })??;
//! assert_eq!(reply, b"hello\n");
//! lp.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod buffer;
mod client;
mod error;
mod factories;
mod feed;
mod flow;
mod options;
mod protocol;
mod reader;
mod reader_io;
mod writer;
mod writer_io;
mod writer_tls;

pub use client::{ClientOutcome, ClientReturn, ClientStart, marker};
pub use error::{Error, Result};
pub use factories::{open_connection, open_unix_connection, start_server, start_unix_server};
pub use options::{
    DEFAULT_LIMIT, StreamConnectOptions, StreamServerOptions, UnixStreamConnectOptions,
    UnixStreamServerOptions,
};
pub use protocol::StreamReaderProtocol;
pub use reader::StreamReader;
pub use writer::StreamWriter;

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
