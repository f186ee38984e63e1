//! One loop per core: N loops on N threads serving one address, started
//! and shut down together.
//!
//! A tulip loop is single-threaded, like asyncio's: a program that
//! outgrows one core runs one loop per thread. [`Builder::start`] starts
//! them — by default one per CPU
//! ([`std::thread::available_parallelism`]) — each on its own thread,
//! each running the same `main` on its own [`Loop`](crate::Loop), and
//! returns a [`LoopGroup`]. With [`Builder::listen`], the group listens on
//! one address and gives every loop its own listening socket:
//!
//! * [`ListenerMode::ReusePort`] (the default): a socket per loop, bound
//!   with `SO_REUSEPORT`; the kernel spreads connections over them by a
//!   hash of their addresses.
//! * [`ListenerMode::Shared`]: one socket, bound once, and a duplicate of
//!   it per loop; whichever loop accepts first serves the connection.
//!
//! `main` is called on each loop's thread with a [`LoopContext`] (the
//! loop's index, its listener, the group's shutdown signal) and returns
//! the loop's main future. [`LoopGroup::shutdown`] stops them all and
//! collects one result per loop.
//!
//! # Shutdown
//!
//! Shutdown is requested by [`LoopGroup::shutdown`], by any
//! [`ShutdownHandle`], or by the failure of a loop (below). Then, on every
//! loop:
//!
//! 1. [`LoopContext::shutdown`] resolves: the main closes its server and
//!    returns its result (cooperative shutdown).
//! 2. A main still running [`Builder::shutdown_grace`] later (default
//!    [`DEFAULT_SHUTDOWN_GRACE`]) is cancelled — its future is dropped,
//!    which closes what it owns (a `serve_forever` closes its server) —
//!    and its result is an error of kind
//!    [`Cancelled`](crate::ErrorKind::Cancelled).
//! 3. As [`tulip::run`](crate::run) does, the loop cancels the tasks left
//!    over, shuts its executor down and closes (closing every transport
//!    and listening socket it still owned), and its thread ends.
//!
//! [`LoopGroup::shutdown`] requests shutdown and joins every thread;
//! [`LoopGroup::join`] only waits. Dropping a group shuts it down too, so
//! no loop thread outlives its group.
//!
//! # Failures
//!
//! **A loop that fails stops the group.** When a main returns an error,
//! or panics (in the `main` closure, in the main future, or anywhere on
//! the loop's thread), or its loop cannot be created, that loop's result
//! is the error — a panic becomes an error of kind
//! [`Panicked`](crate::ErrorKind::Panicked) carrying its message, never an
//! abort — and the group's shutdown is requested, so the other loops wind
//! down as above. A main that returns `Ok` ends its own loop only.
//! The rule keeps a server from silently running on fewer loops than it
//! was started with: the caller sees the failure in the results and
//! decides whether to restart. (A panic in a task or callback the main
//! does not await is reported to the loop's exception handler and the loop
//! keeps running, as on any loop.)
//!
//! Errors of [`Builder::start`] itself — no loop asked for, an address
//! that cannot be bound, a thread that cannot be spawned — start nothing
//! or shut down what was started: every listening socket is bound on the
//! calling thread *before* the first loop starts, so a bind failure on any
//! loop's socket closes the sockets bound so far and returns the error.
//!
//! # Examples
//!
//! Two loops echoing on one port; a client connects, then the group shuts
//! down and each loop reports how many connections it served:
//!
//! ```
//! use std::cell::Cell;
//! use std::io::{Read, Write};
//! use std::rc::Rc;
//! use tulip::per_core::{self, LoopContext};
//! use tulip::prelude::*;
//!
//! # fn main() -> tulip::Result<()> {
//! let group = per_core::Builder::new()
//!     .loops(2)
//!     .listen("127.0.0.1:0".parse().unwrap())
//!     .start(|ctx: LoopContext| async move {
//!         let served = Rc::new(Cell::new(0usize));
//!         let counter = served.clone();
//!         let server = ctx
//!             .start_server(
//!                 move |reader: StreamReader, writer: StreamWriter| {
//!                     counter.set(counter.get() + 1);
//!                     async move {
//!                         let line = reader.readline().await?;
//!                         writer.write(&line)?;
//!                         writer.drain().await?;
//!                         writer.close();
//!                         Ok::<_, Error>(())
//!                     }
//!                 },
//!                 Default::default(),
//!             )
//!             .await?;
//!         ctx.shutdown().await;
//!         server.close();
//!         Ok(served.get())
//!     })?;
//!
//! let addr = group.local_addr().unwrap();
//! let mut conn = std::net::TcpStream::connect(addr)?;
//! conn.write_all(b"hello\n")?;
//! let mut echoed = String::new();
//! conn.read_to_string(&mut echoed)?;
//! assert_eq!(echoed, "hello\n");
//!
//! let served: Vec<usize> = group.shutdown().into_iter().collect::<tulip::Result<_>>()?;
//! assert_eq!(served.iter().sum::<usize>(), 1);
//! # Ok(())
//! # }
//! ```

mod context;
mod group;
mod listener;
mod shutdown;

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

pub use context::LoopContext;
pub use group::LoopGroup;
pub use listener::ListenerMode;
pub use shutdown::{ShutdownHandle, ShutdownRequested};

use crate::Result;

/// How long a main may keep running after shutdown was requested before it
/// is cancelled, unless [`Builder::shutdown_grace`] says otherwise.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The prefix of the loop threads' names (`tulip-loop-0`, `tulip-loop-1`
/// …), unless [`Builder::thread_name`] says otherwise.
pub const DEFAULT_THREAD_NAME: &str = "tulip-loop";

/// Configures and starts a [`LoopGroup`].
///
/// ```
/// use std::time::Duration;
/// use tulip::per_core::{Builder, ListenerMode};
///
/// let builder = Builder::new()
///     .loops(4)
///     .listen("127.0.0.1:8080".parse().unwrap())
///     .listener_mode(ListenerMode::Shared)
///     .shutdown_grace(Duration::from_secs(2));
/// assert_eq!(builder.loop_count(), 4);
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    loops: usize,
    listen: Option<SocketAddr>,
    mode: ListenerMode,
    grace: Duration,
    thread_name: String,
}

impl Builder {
    /// A group of one loop per CPU, listening on nothing, with the default
    /// grace period and thread names.
    pub fn new() -> Builder {
        Builder {
            loops: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            listen: None,
            mode: ListenerMode::default(),
            grace: DEFAULT_SHUTDOWN_GRACE,
            thread_name: DEFAULT_THREAD_NAME.to_owned(),
        }
    }

    /// Runs `n` loops (default: [`std::thread::available_parallelism`]).
    /// Zero is refused by [`start`](Builder::start).
    #[must_use]
    pub fn loops(mut self, n: usize) -> Builder {
        self.loops = n;
        self
    }

    /// How many loops [`start`](Builder::start) will run.
    pub fn loop_count(&self) -> usize {
        self.loops
    }

    /// Listens on `addr` (IPv4 or IPv6; port 0 picks a free port, the same
    /// for every loop): each loop gets a listening socket, as
    /// [`listener_mode`](Builder::listener_mode) says. `SO_REUSEADDR` is
    /// set, as `create_server` does; an IPv6 address serves IPv6 only.
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Builder {
        self.listen = Some(addr);
        self
    }

    /// How the loops share the address of [`listen`](Builder::listen)
    /// (default: [`ListenerMode::ReusePort`]).
    #[must_use]
    pub fn listener_mode(mut self, mode: ListenerMode) -> Builder {
        self.mode = mode;
        self
    }

    /// How long a main may keep running after shutdown was requested
    /// before it is cancelled (default [`DEFAULT_SHUTDOWN_GRACE`]; zero
    /// cancels at once, for mains that rely on cancellation, such as a
    /// bare `serve_forever`).
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Builder {
        self.grace = grace;
        self
    }

    /// Names the loop threads `{prefix}-{index}` (default
    /// [`DEFAULT_THREAD_NAME`]).
    #[must_use]
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Builder {
        self.thread_name = prefix.into();
        self
    }

    /// Binds the listening sockets (if any), then starts the loops: on each
    /// loop's thread a new loop runs `main(ctx)` as its main task. Returns
    /// at once; the loops run until shutdown or until their mains return.
    ///
    /// `main` is shared by the threads, so it is `Send + Sync`; the future
    /// it returns is made and run on the loop's thread and need not be
    /// `Send`. Each loop's output is `Send`, to travel back to the caller.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// for zero loops; an error of kind [`Os`](crate::ErrorKind::Os) when
    /// a socket cannot be made or bound (for a bind,
    /// [`transports::Error::Bind`](loop_transports::Error::Bind) with the
    /// address and the errno) or a thread cannot be spawned. In every
    /// case nothing is left running or open.
    pub fn start<F, Fut, T>(self, main: F) -> Result<LoopGroup<T>>
    where
        F: Fn(LoopContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T>> + 'static,
        T: Send + 'static,
    {
        if self.loops == 0 {
            return Err(loop_core::Error::InvalidArgument(
                "a loop group needs at least one loop".into(),
            )
            .into());
        }
        let (sockets, local_addr) = match self.listen {
            Some(addr) => {
                let (sockets, bound) = listener::bind_listeners(addr, self.mode, self.loops)?;
                (sockets.into_iter().map(Some).collect(), Some(bound))
            }
            None => ((0..self.loops).map(|_| None).collect(), None),
        };
        group::spawn(group::Spawn {
            sockets,
            local_addr,
            grace: self.grace,
            thread_name: self.thread_name,
            main,
        })
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}
