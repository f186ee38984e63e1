//! Subprocesses on tulip's event loop: subprocess transports and
//! protocols, per-loop child watching, and the high-level `Process`.
//!
//! `loop-process` is asyncio's subprocess support. With [`ProcessExt`] in
//! scope, a [`Loop`](loop_core::Loop) gets `subprocess_exec` and
//! `subprocess_shell`, which spawn a child ([`SubprocessOptions`]: stdio
//! modes, working directory, environment, process group or session),
//! connect its pipes as `loop-transports` pipe transports, and drive a
//! [`SubprocessProtocol`] through a [`SubprocessTransport`]. On top of
//! that, `create_subprocess_exec` and `create_subprocess_shell` return a
//! [`Process`]: its pipes as `loop-streams`' `StreamWriter` (stdin) and
//! `StreamReader`s (stdout, stderr), with `wait`, `communicate` and the
//! signals. It builds on `loop-transports`' public pipe transports,
//! `loop-streams`' public reader, writer and `StreamReaderProtocol`, and
//! `loop-core`'s public `Loop` handle only.
//!
//! # Implementation
//!
//! Spawning is `std::process::Command` (`posix_spawn`, or `fork`/`exec`
//! with a close-on-exec error pipe when an option needs code in the child:
//! a new session, a user or group, or a signal mask to empty because the
//! loop's thread blocks signals), so a failed `exec` is an error of the
//! call with the child's errno, and nothing is left behind. Each loop
//! watches its own children (see [`ChildWatcher`]): a pidfd per child,
//! registered with the loop's selector, reaped with `waitid(P_PIDFD)` on
//! the loop's thread; a thread per child where the kernel has no pidfds.
//! `waitpid(-1)` is never called, so other code's children are never
//! reaped; signals go through the pidfd, so they never reach a recycled
//! pid. When a loop closes, children still running are left running and
//! reaped by a thread as they exit: no zombie is left behind.
//!
//! # Examples
//!
//! Feed a child and collect what it writes, with a [`Process`]:
//!
//! ```
//! use loop_core::Loop;
//! use loop_process::{ProcessExt, SubprocessOptions};
//!
//! let lp = Loop::new()?;
//! let l = lp.clone();
//! let out = lp.run_until_complete(async move {
//!     let mut proc = l
//!         .create_subprocess_shell("sort; echo done >&2", SubprocessOptions::new())
//!         .await?;
//!     proc.communicate(Some(b"pear\napple\n")).await
//! })??;
//! assert_eq!(out.stdout, b"apple\npear\n");
//! assert_eq!(out.stderr, b"done\n");
//! assert_eq!(out.status.returncode(), 0);
//! lp.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Read a child's output through a protocol:
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use loop_core::Loop;
//! use loop_process::{ProcessExt, SubprocessOptions, SubprocessProtocol, SubprocessTransport};
//! use loop_transports::BaseProtocol;
//!
//! #[derive(Default)]
//! struct Collect { out: Vec<u8>, exited: Option<loop_core::LoopFuture<()>> }
//! impl BaseProtocol<SubprocessTransport> for Collect {
//!     fn connection_lost(&mut self, _: Option<loop_transports::Error>) {
//!         self.exited.take().map(|f| f.set_result(()));
//!     }
//! }
//! impl SubprocessProtocol for Collect {
//!     fn pipe_data_received(&mut self, _fd: i32, data: &[u8]) {
//!         self.out.extend_from_slice(data);
//!     }
//! }
//!
//! let lp = Loop::new()?;
//! let l = lp.clone();
//! let (out, code) = lp.run_until_complete(async move {
//!     let done = l.create_future();
//!     let d = done.clone();
//!     let (t, proto) = l
//!         .subprocess_exec(move || Collect { exited: Some(d), ..Default::default() },
//!                          "echo", ["hello"], SubprocessOptions::new())
//!         .await?;
//!     done.await?;
//!     let out = std::mem::take(&mut proto.borrow_mut().out);
//!     Ok::<_, loop_process::Error>((out, t.get_returncode()))
//! })??;
//! assert_eq!(out, b"hello\n");
//! assert_eq!(code, Some(0));
//! lp.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_code)]

mod child;
mod error;
mod exec;
mod ext;
mod options;
mod pipes;
mod process;
pub mod protocol;
mod spawn;
mod status;
mod stream_protocol;
#[allow(unsafe_code)]
mod sys;
mod transport;
mod watcher;

pub use error::{Error, Result};
pub use ext::ProcessExt;
pub use options::{Stdio, SubprocessOptions};
pub use process::{Output, Process};
pub use protocol::SubprocessProtocol;
pub use status::ExitStatus;
pub use transport::SubprocessTransport;
pub use watcher::ChildWatcher;

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
