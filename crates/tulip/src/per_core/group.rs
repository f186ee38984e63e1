//! `LoopGroup`: the running loops' threads, their shutdown, and how each
//! thread runs its loop.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::context::LoopContext;
use super::shutdown::ShutdownHandle;
use crate::{Error, Result};

/// Loops running on their own threads, started by
/// [`Builder::start`](super::Builder::start); see the
/// [module documentation](super) for the shutdown and failure rules.
///
/// Dropping a group requests its shutdown and joins its threads, ignoring
/// their results.
pub struct LoopGroup<T> {
    threads: Vec<JoinHandle<Result<T>>>,
    shutdown: ShutdownHandle,
    local_addr: Option<SocketAddr>,
}

impl<T> LoopGroup<T> {
    /// A [`Builder`](super::Builder) with the defaults.
    pub fn builder() -> super::Builder {
        super::Builder::new()
    }

    /// How many loops the group runs (finished ones included).
    pub fn loops(&self) -> usize {
        self.threads.len()
    }

    /// The address the group listens on, with the port the kernel chose
    /// if port 0 was asked for; `None` when it listens on nothing.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// A thread-safe handle that requests the group's shutdown.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Whether every loop's thread has finished (its result is waiting
    /// for [`join`](LoopGroup::join)).
    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(JoinHandle::is_finished)
    }

    /// Requests shutdown (see the [module documentation](super)), waits
    /// for every loop to finish, and returns each loop's result, in loop
    /// order. Blocks the calling thread (at most about the grace period,
    /// for mains that end when asked or when cancelled).
    pub fn shutdown(self) -> Vec<Result<T>> {
        self.shutdown.shutdown();
        self.join()
    }

    /// Waits for every loop to finish — because its main returned, or
    /// because shutdown was requested through a [`ShutdownHandle`] or by a
    /// failing loop — and returns each loop's result, in loop order.
    /// Blocks the calling thread.
    ///
    /// A thread that panicked outside the loop's own panic catching (a
    /// panic while dropping the main's output, say) gives an error of kind
    /// [`Panicked`](crate::ErrorKind::Panicked).
    pub fn join(mut self) -> Vec<Result<T>> {
        std::mem::take(&mut self.threads).into_iter().map(join_thread).collect()
    }
}

/// Joins one loop thread and turns a panic into an error.
fn join_thread<T>(handle: JoinHandle<Result<T>>) -> Result<T> {
    if handle.thread().id() == std::thread::current().id() {
        // Joining itself would deadlock: a group dropped or joined by one
        // of its own loops leaves that loop to end by itself.
        return Err(loop_core::Error::InvalidState(
            "a loop group was joined from one of its own loops".into(),
        )
        .into());
    }
    handle.join().unwrap_or_else(|payload| Err(panicked(&*payload)))
}

impl<T> Drop for LoopGroup<T> {
    fn drop(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        self.shutdown.shutdown();
        for handle in std::mem::take(&mut self.threads) {
            let _ = join_thread(handle);
        }
    }
}

impl<T> fmt::Debug for LoopGroup<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopGroup")
            .field("loops", &self.threads.len())
            .field("local_addr", &self.local_addr)
            .field("shutdown_requested", &self.shutdown.is_shutdown_requested())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// What [`spawn`] needs from the builder.
pub(super) struct Spawn<F> {
    /// One entry per loop: its listening socket, if the group listens.
    pub(super) sockets: Vec<Option<OwnedFd>>,
    pub(super) local_addr: Option<SocketAddr>,
    pub(super) grace: Duration,
    pub(super) thread_name: String,
    pub(super) main: F,
}

/// Starts one thread per socket entry. If a thread cannot be spawned, the
/// ones already running are shut down and joined, and the sockets not yet
/// handed out are closed.
pub(super) fn spawn<F, Fut, T>(spec: Spawn<F>) -> Result<LoopGroup<T>>
where
    F: Fn(LoopContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T>> + 'static,
    T: Send + 'static,
{
    let loops = spec.sockets.len();
    let main = Arc::new(spec.main);
    let mut group = LoopGroup {
        threads: Vec::with_capacity(loops),
        shutdown: ShutdownHandle::default(),
        local_addr: spec.local_addr,
    };
    for (index, socket) in spec.sockets.into_iter().enumerate() {
        let ctx = LoopContext::new(index, loops, spec.local_addr, socket, group.shutdown.clone());
        let main = main.clone();
        let grace = spec.grace;
        let spawned = std::thread::Builder::new()
            .name(format!("{}-{index}", spec.thread_name))
            .spawn(move || run_loop(ctx, main, grace));
        match spawned {
            Ok(handle) => group.threads.push(handle),
            // Dropping the group shuts down and joins what started; the
            // remaining sockets close with the iterator.
            Err(e) => return Err(e.into()),
        }
    }
    Ok(group)
}

/// A loop thread's body: runs the main on a new loop, turns a panic into
/// an error, and requests the group's shutdown if the loop failed.
fn run_loop<F, Fut, T>(ctx: LoopContext, main: Arc<F>, grace: Duration) -> Result<T>
where
    F: Fn(LoopContext) -> Fut + 'static,
    Fut: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    let shutdown = ctx.shutdown_handle();
    let out = catch_unwind(AssertUnwindSafe(move || run_main(ctx, main, grace)))
        .unwrap_or_else(|payload| Err(panicked(&*payload)));
    if out.is_err() {
        shutdown.shutdown();
    }
    out
}

/// Runs `main(ctx)` as the main task of a new loop (as
/// [`loop_core::run`]: leftover tasks cancelled, executor shut down, loop
/// closed), with a watchdog task that cancels it `grace` after shutdown
/// was requested.
fn run_main<F, Fut, T>(ctx: LoopContext, main: Arc<F>, grace: Duration) -> Result<T>
where
    F: Fn(LoopContext) -> Fut + 'static,
    Fut: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    let name = format!("loop group main {}", ctx.index());
    let requested = ctx.shutdown();
    let out = loop_core::run(async move {
        let lp = loop_core::get_running_loop()?;
        // The closure is called inside the task, so a panic in it is the
        // main task's panic like any other.
        let task = lp.create_named_task(name, async move { main(ctx).await })?;
        let main_ref = task.as_task_ref();
        let watchdog = lp.create_task(async move {
            requested.await;
            if !grace.is_zero() {
                // Fails only when the loop is closing, which ends this
                // task anyway.
                let _ = loop_core::sleep(grace).await;
            }
            main_ref.cancel_with("the loop group shut down and its grace period ran out");
        })?;
        let out = task.await;
        watchdog.cancel();
        Ok::<_, loop_core::Error>(out)
    });
    out???
}

/// The error of a caught panic, with its message.
fn panicked(payload: &(dyn Any + Send)) -> Error {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a loop thread panicked".to_owned()
    };
    Error::Loop(loop_core::Error::Panicked(message))
}
