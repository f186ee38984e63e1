//! `SubprocessTransport`: one child process, its pipe transports and its
//! protocol (asyncio's `BaseSubprocessTransport`). This file holds the
//! transport's methods and the callback order; spawning and connecting are
//! in `exec.rs`, the pipes' protocols in `pipes.rs`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use loop_core::{ExceptionContext, Loop};
use loop_transports::TransportRef;

use crate::child::Child;
use crate::error::{Error, Result};
use crate::protocol::{ProtocolRef, SubprocessProtocol};
use crate::status::ExitStatus;
use crate::sys;
use crate::watcher::ExitObserver;

/// Something a pipe reported before `connection_made`, held until then.
enum Held {
    Data(i32, Vec<u8>),
    Lost(i32, Option<loop_transports::Error>),
}

/// The transport of a child process (asyncio's `SubprocessTransport`),
/// handed to the protocol in `connection_made` and returned by
/// [`subprocess_exec`](crate::ProcessExt::subprocess_exec).
///
/// # Return code
///
/// [`get_returncode`](Self::get_returncode) follows asyncio: `None` while
/// the child runs, then its exit code, or the negated signal number when a
/// signal killed it (`-9` after [`kill`](Self::kill)).
/// [`exit_status`](Self::exit_status) gives the same as a typed
/// [`ExitStatus`].
///
/// # Signals
///
/// Signals go through the child's pidfd (`pidfd_send_signal`), which names
/// that process and no other; without a pidfd (older kernels) through
/// `kill(pid)`, sent only while the child is provably unreaped (reaping
/// and signalling happen on the loop's thread). Once the child has been
/// reaped, signalling it is refused with [`Error::ProcessLookup`] and
/// nothing is sent.
///
/// # Close
///
/// [`close`](Self::close) kills a still-running child (`SIGKILL`), drops
/// what stdin had not sent yet, and closes every pipe. The protocol still
/// gets the rest of its callbacks, in order: `pipe_connection_lost` for
/// each pipe, `process_exited` once the child is reaped, and
/// `connection_lost` last.
pub struct SubprocessTransport {
    lp: Loop,
    me: Weak<SubprocessTransport>,
    child: Rc<Child>,
    protocol: RefCell<Option<ProtocolRef>>,
    pipes: RefCell<[Option<TransportRef>; 3]>,
    /// Bit `fd`: the child has pipe `fd` and its `pipe_connection_lost`
    /// has not been delivered yet.
    open_pipes: Cell<u8>,
    held: RefCell<Vec<Held>>,
    made: Cell<bool>,
    closed: Cell<bool>,
    finishing: Cell<bool>,
    lost: Cell<bool>,
    exit_waiters: RefCell<Vec<Waker>>,
}

impl SubprocessTransport {
    /// A transport for `child`, which was given a pipe for each `true` of
    /// `piped` (stdin, stdout, stderr).
    pub(crate) fn new(
        lp: &Loop,
        child: Rc<Child>,
        protocol: ProtocolRef,
        piped: [bool; 3],
    ) -> Rc<Self> {
        let open =
            piped.iter().enumerate().fold(0u8, |m, (fd, p)| if *p { m | 1 << fd } else { m });
        Rc::new_cyclic(|me| SubprocessTransport {
            lp: lp.clone(),
            me: me.clone(),
            child,
            protocol: RefCell::new(Some(protocol)),
            pipes: RefCell::new([None, None, None]),
            open_pipes: Cell::new(open),
            held: RefCell::new(Vec::new()),
            made: Cell::new(false),
            closed: Cell::new(false),
            finishing: Cell::new(false),
            lost: Cell::new(false),
            exit_waiters: RefCell::new(Vec::new()),
        })
    }

    /// The child's process id.
    pub fn get_pid(&self) -> u32 {
        self.child.pid()
    }

    /// asyncio's `returncode`: `None` while the child runs (or is not
    /// reaped yet), else the exit code, or `-signal` if a signal killed it.
    pub fn get_returncode(&self) -> Option<i32> {
        self.child.status().map(ExitStatus::returncode)
    }

    /// How the child ended, once it is reaped.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.child.status()
    }

    /// The transport of pipe `fd` (0 stdin, 1 stdout, 2 stderr), if the
    /// child was given one: a write transport for stdin, read transports
    /// for the others. Returned until `connection_lost`, also after the pipe
    /// closed.
    pub fn get_pipe_transport(&self, fd: i32) -> Option<TransportRef> {
        let i = usize::try_from(fd).ok().filter(|i| *i < 3)?;
        self.pipes.borrow()[i].clone()
    }

    /// Sends signal `signum` to the child (a number, or a
    /// `loop_signals::Signal`).
    ///
    /// # Errors
    ///
    /// [`Error::ProcessLookup`] once the child has been reaped (nothing is
    /// sent); [`Error::InvalidArgument`] for a number that is no signal;
    /// [`Error::Io`] if the OS refuses (`EPERM`).
    pub fn send_signal(&self, signum: impl Into<i32>) -> Result<()> {
        self.child.signal(signum.into())
    }

    /// Sends `SIGTERM`.
    ///
    /// # Errors
    ///
    /// As [`send_signal`](Self::send_signal).
    pub fn terminate(&self) -> Result<()> {
        self.child.signal(sys::SIGTERM)
    }

    /// Sends `SIGKILL`.
    ///
    /// # Errors
    ///
    /// As [`send_signal`](Self::send_signal).
    pub fn kill(&self) -> Result<()> {
        self.child.signal(sys::SIGKILL)
    }

    /// Kills the child if it still runs (`SIGKILL`), aborts the stdin pipe
    /// and closes the others. The remaining callbacks follow from the loop
    /// (see the type's docs). Idempotent.
    pub fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        let pipes = self.pipes.borrow().clone();
        for (fd, pipe) in pipes.iter().enumerate() {
            if let Some(pipe) = pipe {
                if fd == 0 { pipe.abort() } else { pipe.close() }
            }
        }
        if self.child.status().is_none() {
            if let Err(e) = self.child.signal(sys::SIGKILL) {
                tracing::debug!(pid = self.get_pid(), "close could not kill the child: {e}");
            }
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closing(&self) -> bool {
        self.closed.get()
    }

    /// Waits until the child has exited and been reaped, whatever its
    /// pipes do, and returns its status.
    ///
    /// # Errors
    ///
    /// [`Error::Loop`] with `LoopClosed` when the loop closed first.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn wait(&self) -> Result<ExitStatus> {
        std::future::poll_fn(|cx| {
            if let Some(status) = self.child.status() {
                return Poll::Ready(Ok(status));
            }
            if self.lp.is_closed() {
                return Poll::Ready(Err(Error::Loop(loop_core::Error::LoopClosed)));
            }
            let mut w = self.exit_waiters.borrow_mut();
            if !w.iter().any(|x| x.will_wake(cx.waker())) {
                w.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    /// The loop this transport runs on.
    pub fn get_loop(&self) -> &Loop {
        &self.lp
    }

    // ----- called by exec.rs and pipes.rs -----

    pub(crate) fn set_pipe(&self, fd: usize, pipe: TransportRef) {
        self.pipes.borrow_mut()[fd] = Some(pipe);
    }

    /// Delivers `connection_made`, then what the pipes reported meanwhile.
    pub(crate) fn connection_made(&self) {
        let Some(me) = self.me.upgrade() else { return };
        self.made.set(true);
        self.call_protocol("connection_made", |p| p.connection_made(me));
        let held = std::mem::take(&mut *self.held.borrow_mut());
        for event in held {
            match event {
                Held::Data(fd, data) => self.deliver_data(fd, &data),
                Held::Lost(fd, err) => self.deliver_lost(fd, err),
            }
        }
        self.try_finish();
    }

    pub(crate) fn on_pipe_data(&self, fd: i32, data: &[u8]) {
        if !self.made.get() {
            self.held.borrow_mut().push(Held::Data(fd, data.to_vec()));
            return;
        }
        self.deliver_data(fd, data);
    }

    pub(crate) fn on_pipe_lost(&self, fd: i32, err: Option<loop_transports::Error>) {
        if !self.made.get() {
            self.held.borrow_mut().push(Held::Lost(fd, err));
            return;
        }
        self.deliver_lost(fd, err);
        self.try_finish();
    }

    /// Flow control of the stdin pipe.
    pub(crate) fn on_stdin_flow(&self, pause: bool) {
        if !self.made.get() || self.lost.get() {
            return;
        }
        if pause {
            self.call_protocol("pause_writing", |p| p.pause_writing());
        } else {
            self.call_protocol("resume_writing", |p| p.resume_writing());
        }
    }

    fn deliver_data(&self, fd: i32, data: &[u8]) {
        if !self.lost.get() {
            self.call_protocol("pipe_data_received", |p| p.pipe_data_received(fd, data));
        }
    }

    fn deliver_lost(&self, fd: i32, err: Option<loop_transports::Error>) {
        let bit = 1u8 << fd;
        if self.open_pipes.get() & bit == 0 {
            return;
        }
        self.open_pipes.set(self.open_pipes.get() & !bit);
        self.call_protocol("pipe_connection_lost", |p| p.pipe_connection_lost(fd, err));
    }

    /// Once every pipe is lost and the child reaped: `process_exited`,
    /// then `connection_lost`, from one loop callback, exactly once.
    fn try_finish(&self) {
        if !self.made.get() || self.open_pipes.get() != 0 || self.child.status().is_none() {
            return;
        }
        if self.finishing.replace(true) {
            return;
        }
        let Some(me) = self.me.upgrade() else { return };
        if self.lp.call_soon(move || me.finish()).is_err() {
            self.release();
        }
    }

    fn finish(&self) {
        self.call_protocol("process_exited", |p| p.process_exited());
        self.lost.set(true);
        self.call_protocol("connection_lost", |p| p.connection_lost(None));
        self.release();
    }

    /// Drops the protocol and the pipes, breaking the reference cycles.
    fn release(&self) {
        self.lost.set(true);
        drop(self.protocol.borrow_mut().take());
        let pipes = std::mem::take(&mut *self.pipes.borrow_mut());
        drop(pipes);
        drop(std::mem::take(&mut *self.held.borrow_mut()));
    }

    /// Calls the protocol, catching a panic: it is reported to the
    /// exception handler and closes the transport.
    fn call_protocol(&self, callback: &'static str, f: impl FnOnce(&mut dyn SubprocessProtocol)) {
        let Some(proto) = self.protocol.borrow().clone() else { return };
        let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut *proto.proto.borrow_mut())));
        if let Err(payload) = outcome {
            let message = panic_message(&*payload);
            let ctx =
                ExceptionContext::new(format!("Fatal error: protocol.{callback}() call failed."))
                    .with_error(loop_core::Error::Panicked(message))
                    .with_protocol(proto.name)
                    .with_transport(format!("{self:?}"));
            self.lp.call_exception_handler(ctx);
            self.close();
        }
    }
}

impl ExitObserver for SubprocessTransport {
    fn child_exited(&self) {
        for w in std::mem::take(&mut *self.exit_waiters.borrow_mut()) {
            w.wake();
        }
        self.try_finish();
    }

    fn loop_closed(&self) {
        // No callback can be delivered any more: break the protocol ↔
        // transport cycle so both (and the pipes) are freed.
        self.finishing.set(true);
        self.release();
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

impl fmt::Debug for SubprocessTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubprocessTransport")
            .field("pid", &self.get_pid())
            .field("returncode", &self.get_returncode())
            .field("closed", &self.closed.get())
            .finish()
    }
}
