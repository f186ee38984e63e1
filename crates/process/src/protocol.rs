//! `SubprocessProtocol`: the callbacks a subprocess transport makes
//! (asyncio's `SubprocessProtocol`), and their order.
//!
//! # Callback order
//!
//! ```text
//! connection_made
//!   → (pipe_data_received(fd, ..) | pause_writing | resume_writing)*
//!   → pipe_connection_lost(fd, ..) once per pipe
//!   → process_exited
//!   → connection_lost(None)
//! ```
//!
//! * `connection_made` comes first, once, after every pipe is connected;
//!   output the child wrote before it is held and delivered right after it,
//!   in order.
//! * `pipe_connection_lost` comes once for each pipe the child was given
//!   (0 stdin, 1 stdout, 2 stderr), and no `pipe_data_received` for that fd
//!   follows it.
//! * `process_exited` comes once, after **every** pipe's
//!   `pipe_connection_lost` (asyncio leaves this order open). If a
//!   grandchild keeps a pipe open after the child exited, `process_exited`
//!   waits for that pipe to close; the exit itself is visible at once
//!   through [`SubprocessTransport::wait`](crate::SubprocessTransport::wait)
//!   and [`get_returncode`](crate::SubprocessTransport::get_returncode).
//! * `connection_lost(None)` comes last, exactly once, right after
//!   `process_exited`; nothing follows it.
//! * `pause_writing` / `resume_writing` are the stdin pipe's flow control.
//!
//! No callback is made from inside a transport method: `close()`,
//! `kill()` and the rest only schedule what follows.
//!
//! # Panics
//!
//! A panic in a callback is caught, reported to the loop's exception
//! handler with the protocol and transport described, and closes the
//! transport (the child is killed); the remaining callbacks still come in
//! the order above.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use loop_transports::BaseProtocol;

use crate::transport::SubprocessTransport;

/// A protocol for a child process (asyncio's `SubprocessProtocol`).
///
/// `connection_made`, `connection_lost`, `pause_writing` and
/// `resume_writing` come from [`BaseProtocol`]; every method has an empty
/// default. See [the module docs](crate::protocol) for the order.
pub trait SubprocessProtocol: BaseProtocol<SubprocessTransport> {
    /// The child wrote `data` to its stdout (`fd` 1) or stderr (`fd` 2).
    /// Never empty; lent from the pipe's read buffer.
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        let _ = (fd, data);
    }

    /// Pipe `fd` closed: `None` for an EOF or a close by this side, the
    /// error otherwise (a stdin pipe whose reader went away with data still
    /// buffered reports a broken pipe).
    fn pipe_connection_lost(&mut self, fd: i32, error: Option<loop_transports::Error>) {
        let _ = (fd, error);
    }

    /// The child exited (and every pipe is closed). Its status is
    /// [`get_returncode`](SubprocessTransport::get_returncode).
    fn process_exited(&mut self) {}
}

/// A type-erased, shared subprocess protocol with its type name (for error
/// reports).
#[derive(Clone)]
pub(crate) struct ProtocolRef {
    pub(crate) proto: Rc<RefCell<dyn SubprocessProtocol>>,
    pub(crate) name: &'static str,
}

impl ProtocolRef {
    pub(crate) fn new<P: SubprocessProtocol + 'static>(p: Rc<RefCell<P>>) -> Self {
        ProtocolRef { proto: p, name: std::any::type_name::<P>() }
    }
}

impl fmt::Debug for ProtocolRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}
