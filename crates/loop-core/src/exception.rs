//! Exception handling: the context of a failure and the handler that gets it.
//!
//! asyncio passes a dict to `call_exception_handler`; here it is a struct
//! with the same keys. Objects the loop cannot own (a protocol, a transport,
//! a socket) are carried as their `Debug` description.

use std::fmt;
use std::rc::Rc;

use crate::error::Error;
use crate::handle::Handle;
use crate::task::TaskRef;

/// What went wrong, for an exception handler (asyncio's context dict).
///
/// Only `message` is always set. Fields follow asyncio's keys: `error`
/// (`exception`), `future`, `task`, `handle`, `protocol`, `transport`,
/// `socket`.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ExceptionContext {
    /// A human-readable description of the failure.
    pub message: String,
    /// The error, when there is one (a caught panic is
    /// [`Error::Panicked`]).
    pub error: Option<Error>,
    /// A description of the future involved.
    pub future: Option<String>,
    /// The task involved.
    pub task: Option<TaskRef>,
    /// The callback handle involved.
    pub handle: Option<Handle>,
    /// A description of the protocol involved.
    pub protocol: Option<String>,
    /// A description of the transport involved.
    pub transport: Option<String>,
    /// A description of the socket involved.
    pub socket: Option<String>,
}

impl ExceptionContext {
    /// A context with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        ExceptionContext { message: message.into(), ..Default::default() }
    }

    /// Sets the error.
    pub fn with_error(mut self, error: Error) -> Self {
        self.error = Some(error);
        self
    }

    /// Sets the task.
    pub fn with_task(mut self, task: TaskRef) -> Self {
        self.task = Some(task);
        self
    }

    /// Sets the handle.
    pub fn with_handle(mut self, handle: Handle) -> Self {
        self.handle = Some(handle);
        self
    }

    /// Sets the future's description.
    pub fn with_future(mut self, future: impl Into<String>) -> Self {
        self.future = Some(future.into());
        self
    }

    /// Sets the protocol's description.
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Sets the transport's description.
    pub fn with_transport(mut self, transport: impl Into<String>) -> Self {
        self.transport = Some(transport.into());
        self
    }

    /// Sets the socket's description.
    pub fn with_socket(mut self, socket: impl Into<String>) -> Self {
        self.socket = Some(socket.into());
        self
    }
}

impl fmt::Debug for ExceptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ExceptionContext");
        d.field("message", &self.message);
        if let Some(e) = &self.error {
            d.field("error", e);
        }
        if let Some(v) = &self.future {
            d.field("future", v);
        }
        if let Some(v) = &self.task {
            d.field("task", v);
        }
        if let Some(v) = &self.handle {
            d.field("handle", v);
        }
        if let Some(v) = &self.protocol {
            d.field("protocol", v);
        }
        if let Some(v) = &self.transport {
            d.field("transport", v);
        }
        if let Some(v) = &self.socket {
            d.field("socket", v);
        }
        d.finish()
    }
}

impl fmt::Display for ExceptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(e) = &self.error {
            write!(f, ": {e}")?;
        }
        for (k, v) in [
            ("future", &self.future),
            ("protocol", &self.protocol),
            ("transport", &self.transport),
            ("socket", &self.socket),
        ] {
            if let Some(v) = v {
                write!(f, "; {k}: {v}")?;
            }
        }
        if let Some(t) = &self.task {
            write!(f, "; task: {t:?}")?;
        }
        if let Some(h) = &self.handle {
            write!(f, "; handle: {h:?}")?;
        }
        Ok(())
    }
}

/// A custom exception handler (asyncio's `set_exception_handler`). It gets
/// the loop's user-facing handle and the context.
pub type ExceptionHandler = Rc<dyn Fn(&crate::Loop, &ExceptionContext)>;

/// The default exception handler: logs the context at `error` level through
/// `tracing` (asyncio's `default_exception_handler`).
pub fn default_exception_handler(ctx: &ExceptionContext) {
    tracing::error!(target: "tulip", "{ctx}");
}
