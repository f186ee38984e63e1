//! The client callback of `start_server` (asyncio's `client_connected_cb`):
//! a plain closure or an async one, run for each connection; a failure or a
//! panic is reported to the loop's exception handler and closes that
//! connection only.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use futures_lite::FutureExt;
use loop_core::{ExceptionContext, LocalBoxFuture, TaskRef, WeakLoop};
use loop_transports::TransportRef;

use crate::reader::StreamReader;
use crate::writer::StreamWriter;

/// The message asyncio reports a failing client callback with.
const MESSAGE: &str = "Unhandled exception in client_connected_cb";

/// What a client callback may return: `()` or a `Result` whose error
/// converts into the loop's error (this crate's, the transports', the
/// loop's, `std::io::Error` …). An `Err` is reported like a panic.
pub trait ClientOutcome {
    /// The outcome as a result.
    ///
    /// # Errors
    ///
    /// The callback's own error.
    fn into_result(self) -> Result<(), loop_core::Error>;
}

impl ClientOutcome for () {
    fn into_result(self) -> Result<(), loop_core::Error> {
        Ok(())
    }
}

impl<E: Into<loop_core::Error>> ClientOutcome for Result<(), E> {
    fn into_result(self) -> Result<(), loop_core::Error> {
        self.map_err(Into::into)
    }
}

/// Marker types that let [`start_server`](crate::start_server) take a plain
/// or an async callback (inferred; you never name them).
pub mod marker {
    /// The callback returns a [`ClientOutcome`](super::ClientOutcome): it is
    /// a plain closure, run inside `connection_made`.
    #[derive(Debug)]
    pub enum Plain {}
    /// The callback returns a future (`|r, w| async move { … }`), run as
    /// its own task.
    #[derive(Debug)]
    pub enum Async {}
}

/// What a client callback returns: a [`ClientOutcome`] (`()` or a
/// `Result`) for a plain closure, or a future of one for an async closure.
/// `M` is a [`marker`] type the compiler infers.
pub trait ClientReturn<M>: 'static {
    /// Starts the callback's work.
    fn into_start(self) -> ClientStart;
}

/// The started work of a client callback (see [`ClientReturn`]); opaque.
pub struct ClientStart(Started);

impl fmt::Debug for ClientStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientStart")
    }
}

enum Started {
    Done(Result<(), loop_core::Error>),
    Task(LocalBoxFuture<Result<(), loop_core::Error>>),
}

impl<O: ClientOutcome + 'static> ClientReturn<marker::Plain> for O {
    fn into_start(self) -> ClientStart {
        ClientStart(Started::Done(self.into_result()))
    }
}

impl<Fut> ClientReturn<marker::Async> for Fut
where
    Fut: Future + 'static,
    Fut::Output: ClientOutcome,
{
    fn into_start(self) -> ClientStart {
        ClientStart(Started::Task(Box::pin(async move { self.await.into_result() })))
    }
}

/// A type-erased client callback.
#[derive(Clone)]
pub(crate) struct ClientHandler(Rc<dyn Fn(StreamReader, StreamWriter) -> ClientStart>);

impl ClientHandler {
    pub(crate) fn new<F, R, M>(callback: F) -> Self
    where
        F: Fn(StreamReader, StreamWriter) -> R + 'static,
        R: ClientReturn<M>,
    {
        ClientHandler(Rc::new(move |r, w| callback(r, w).into_start()))
    }
}

impl fmt::Debug for ClientHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientHandler")
    }
}

/// Runs the callback for a new connection (inside `connection_made`).
pub(crate) fn start(
    lp: &WeakLoop,
    handler: &ClientHandler,
    reader: StreamReader,
    writer: StreamWriter,
    transport: &TransportRef,
) {
    let started = catch_unwind(AssertUnwindSafe(|| (handler.0)(reader, writer).0));
    match started {
        Err(payload) => fail(lp, transport, panicked(&*payload), None),
        Ok(Started::Done(Ok(()))) => {}
        Ok(Started::Done(Err(e))) => fail(lp, transport, e, None),
        Ok(Started::Task(fut)) => {
            let Some(l) = lp.upgrade() else { return transport.close() };
            let t = transport.clone();
            let weak = lp.clone();
            let body = async move {
                // Closes the connection if the task is cancelled (asyncio
                // closes the transport of a cancelled callback task).
                let mut on_cancel = CloseOnDrop(Some(t.clone()));
                let outcome = AssertUnwindSafe(fut).catch_unwind().await;
                on_cancel.0 = None;
                match outcome {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => fail(&weak, &t, e, loop_core::current_task()),
                    Err(payload) => {
                        fail(&weak, &t, panicked(&*payload), loop_core::current_task());
                    }
                }
            };
            if l.create_task(body).is_err() {
                transport.close();
            }
        }
    }
}

struct CloseOnDrop(Option<TransportRef>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.close();
        }
    }
}

/// Reports a failed callback and closes its connection. A cancellation is
/// not reported (asyncio only closes the transport then).
fn fail(lp: &WeakLoop, transport: &TransportRef, err: loop_core::Error, task: Option<TaskRef>) {
    if !err.is_cancelled() {
        if let Some(lp) = lp.upgrade() {
            let peer = transport.peername().map_or_else(String::new, |a| format!(" to {a}"));
            let mut ctx = ExceptionContext::new(MESSAGE)
                .with_error(err)
                .with_protocol("loop_streams::StreamReaderProtocol")
                .with_transport(format!("stream transport{peer}"));
            if let Some(task) = task {
                ctx = ctx.with_task(task);
            }
            lp.call_exception_handler(ctx);
        }
    }
    transport.close();
}

fn panicked(payload: &(dyn std::any::Any + Send)) -> loop_core::Error {
    let msg = if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    };
    loop_core::Error::Panicked(msg)
}
