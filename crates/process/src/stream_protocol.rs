//! The protocol behind a [`Process`](crate::Process) (asyncio's
//! `SubprocessStreamProtocol`): it puts one of `loop-streams`'
//! [`StreamReaderProtocol`]s on each of the child's pipes, so stdout and
//! stderr feed [`StreamReader`]s and the stdin pipe's flow control reaches
//! a [`StreamWriter`].
//!
//! Everything goes through `loop-streams`' public API: each pipe's
//! `StreamReaderProtocol` gets the pipe's transport in `connection_made`,
//! the pipe's data, and the pipe's `connection_lost` — exactly what it
//! would get sitting on the pipe transport itself.

use std::fmt;
use std::rc::Rc;

use loop_streams::{StreamReader, StreamReaderProtocol, StreamWriter};
use loop_transports::{BaseProtocol, Protocol};

use crate::protocol::SubprocessProtocol;
use crate::transport::SubprocessTransport;

/// One `StreamReaderProtocol` per pipe: `[stdin, stdout, stderr]`. The
/// stdin one has no reader (a write-only stream); it carries the pipe's
/// flow control and loss to the writer.
pub(crate) struct StreamsProtocol {
    pipes: [Option<StreamReaderProtocol>; 3],
}

impl StreamsProtocol {
    /// A protocol feeding `stdout` and `stderr`.
    pub(crate) fn new(stdout: &StreamReader, stderr: &StreamReader) -> Self {
        StreamsProtocol {
            pipes: [
                Some(StreamReaderProtocol::new(None)),
                Some(StreamReaderProtocol::new(Some(stdout))),
                Some(StreamReaderProtocol::new(Some(stderr))),
            ],
        }
    }

    /// A writer over the stdin pipe, if the child has one. Called after
    /// `connection_made`.
    pub(crate) fn stdin_writer(&self, t: &SubprocessTransport) -> Option<StreamWriter> {
        let proto = self.pipes[0].as_ref()?;
        Some(StreamWriter::new(t.get_pipe_transport(0)?, proto))
    }

    /// Whether the child has pipe `fd`. Valid after `connection_made`.
    pub(crate) fn has_pipe(&self, fd: usize) -> bool {
        self.pipes[fd].is_some()
    }

    fn pipe(&mut self, fd: i32) -> Option<&mut StreamReaderProtocol> {
        self.pipes.get_mut(usize::try_from(fd).ok()?)?.as_mut()
    }
}

impl BaseProtocol<SubprocessTransport> for StreamsProtocol {
    fn connection_made(&mut self, t: Rc<SubprocessTransport>) {
        for (fd, slot) in self.pipes.iter_mut().enumerate() {
            match t.get_pipe_transport(fd as i32) {
                Some(pipe) => {
                    if let Some(proto) = slot {
                        proto.connection_made(pipe);
                    }
                }
                // Not a pipe: this stream has no reader or writer.
                None => *slot = None,
            }
        }
    }

    fn pause_writing(&mut self) {
        if let Some(p) = self.pipe(0) {
            p.pause_writing();
        }
    }

    fn resume_writing(&mut self) {
        if let Some(p) = self.pipe(0) {
            p.resume_writing();
        }
    }
}

impl SubprocessProtocol for StreamsProtocol {
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        if fd != 0 {
            if let Some(p) = self.pipe(fd) {
                p.data_received(data);
            }
        }
    }

    fn pipe_connection_lost(&mut self, fd: i32, error: Option<loop_transports::Error>) {
        // stdout / stderr: EOF or the error for the reader; stdin: ends
        // every `drain` and `wait_closed` of the writer.
        if let Some(p) = self.pipe(fd) {
            p.connection_lost(error);
        }
    }
}

impl fmt::Debug for StreamsProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamsProtocol").field("pipes", &self.pipes).finish()
    }
}
