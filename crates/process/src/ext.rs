//! `ProcessExt`: subprocesses as methods of the loop, so
//! `lp.subprocess_exec(..)` reads like asyncio.

use std::cell::RefCell;
use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::rc::Rc;

use loop_core::Loop;

use crate::error::Result;
use crate::exec::{self, SHELL};
use crate::options::SubprocessOptions;
use crate::process::{self, Process};
use crate::protocol::SubprocessProtocol;
use crate::transport::SubprocessTransport;
use crate::watcher::{ChildWatcher, LoopChildren};

/// Subprocesses as methods of [`Loop`] (asyncio's loop methods of the same
/// names).
///
/// Sealed: implemented for [`Loop`] only, so methods can be added without
/// breaking anyone:
///
/// ```compile_fail,E0277
/// struct MyLoop;
/// impl loop_process::ProcessExt for MyLoop {}
/// ```
pub trait ProcessExt: sealed::Sealed {
    /// Runs `program` with `args` (asyncio's `subprocess_exec`; `args` do
    /// not include `argv[0]`, see [`SubprocessOptions::arg0`]), connected
    /// to a protocol made by `factory`. `program` is looked up on `PATH`
    /// unless it contains a `/`. Arguments are OS strings: any bytes but
    /// NUL. Resolves once `connection_made` has run; the callbacks that
    /// follow, and their order, are [`SubprocessProtocol`]'s.
    ///
    /// The child starts with an empty signal mask and the default
    /// disposition of every signal the loop handles, and inherits no
    /// descriptor of the loop's.
    ///
    /// # Errors
    ///
    /// [`Error::ProgramNotFound`](crate::Error::ProgramNotFound),
    /// [`Error::Cwd`](crate::Error::Cwd) or
    /// [`Error::Spawn`](crate::Error::Spawn), with the OS error (errno
    /// included), when the child cannot be started — no descriptor is left
    /// open and no process behind;
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a NUL
    /// byte, an `=` in an environment name or a misplaced
    /// [`Stdio::Stdout`](crate::Stdio::Stdout);
    /// [`Error::Loop`](crate::Error::Loop) once the loop is closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after the child started kills it and closes its
    /// pipes; it is still reaped.
    fn subprocess_exec<P>(
        &self,
        factory: impl FnOnce() -> P,
        program: impl AsRef<OsStr>,
        args: impl IntoIterator<Item = impl AsRef<OsStr>>,
        opts: SubprocessOptions,
    ) -> impl Future<Output = Result<(Rc<SubprocessTransport>, Rc<RefCell<P>>)>>
    where
        P: SubprocessProtocol + 'static;

    /// Runs `cmd` with `/bin/sh -c` (asyncio's `subprocess_shell`).
    /// Quoting is the caller's business.
    ///
    /// # Errors
    ///
    /// As [`subprocess_exec`](ProcessExt::subprocess_exec).
    ///
    /// # Cancel safety
    ///
    /// As [`subprocess_exec`](ProcessExt::subprocess_exec).
    fn subprocess_shell<P>(
        &self,
        factory: impl FnOnce() -> P,
        cmd: impl AsRef<OsStr>,
        opts: SubprocessOptions,
    ) -> impl Future<Output = Result<(Rc<SubprocessTransport>, Rc<RefCell<P>>)>>
    where
        P: SubprocessProtocol + 'static;

    /// Runs `program` with `args` as a [`Process`] whose pipes are streams
    /// (asyncio's `create_subprocess_exec`): a
    /// [`StreamWriter`](loop_streams::StreamWriter) for stdin and
    /// [`StreamReader`](loop_streams::StreamReader)s for stdout and stderr,
    /// for each stream that is a [`Stdio::Pipe`](crate::Stdio::Pipe) (the
    /// default — asyncio defaults to inheriting). The readers' buffer limit
    /// is [`SubprocessOptions::limit`]. Spawning is as in
    /// [`subprocess_exec`](ProcessExt::subprocess_exec).
    ///
    /// ```
    /// use loop_core::Loop;
    /// use loop_process::{ProcessExt, SubprocessOptions};
    ///
    /// let lp = Loop::new()?;
    /// let l = lp.clone();
    /// let out = lp.run_until_complete(async move {
    ///     let mut proc = l.create_subprocess_exec("tr", ["a-z", "A-Z"], SubprocessOptions::new()).await?;
    ///     proc.communicate(Some(b"hello")).await
    /// })??;
    /// assert_eq!(out.stdout, b"HELLO");
    /// assert!(out.status.success());
    /// lp.close()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`subprocess_exec`](ProcessExt::subprocess_exec), and
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a
    /// zero `limit`.
    ///
    /// # Cancel safety
    ///
    /// As [`subprocess_exec`](ProcessExt::subprocess_exec): dropping the
    /// future after the child started kills it.
    fn create_subprocess_exec(
        &self,
        program: impl AsRef<OsStr>,
        args: impl IntoIterator<Item = impl AsRef<OsStr>>,
        opts: SubprocessOptions,
    ) -> impl Future<Output = Result<Process>>;

    /// Runs `cmd` with `/bin/sh -c` as a [`Process`] (asyncio's
    /// `create_subprocess_shell`). Quoting is the caller's business.
    ///
    /// # Errors
    ///
    /// As [`create_subprocess_exec`](ProcessExt::create_subprocess_exec).
    ///
    /// # Cancel safety
    ///
    /// As [`create_subprocess_exec`](ProcessExt::create_subprocess_exec).
    fn create_subprocess_shell(
        &self,
        cmd: impl AsRef<OsStr>,
        opts: SubprocessOptions,
    ) -> impl Future<Output = Result<Process>>;

    /// Chooses how this loop notices its children's exits, for children
    /// spawned from now on (asyncio's `set_child_watcher`, per loop).
    ///
    /// # Errors
    ///
    /// [`Error::Loop`](crate::Error::Loop) once the loop is closed.
    fn set_child_watcher(&self, watcher: ChildWatcher) -> Result<()>;

    /// How this loop notices its children's exits.
    fn child_watcher(&self) -> ChildWatcher;
}

impl ProcessExt for Loop {
    fn subprocess_exec<P>(
        &self,
        factory: impl FnOnce() -> P,
        program: impl AsRef<OsStr>,
        args: impl IntoIterator<Item = impl AsRef<OsStr>>,
        opts: SubprocessOptions,
    ) -> impl Future<Output = Result<(Rc<SubprocessTransport>, Rc<RefCell<P>>)>>
    where
        P: SubprocessProtocol + 'static,
    {
        let program = program.as_ref().to_owned();
        let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        exec::subprocess_exec(self.clone(), factory, program, args, opts)
    }

    fn subprocess_shell<P>(
        &self,
        factory: impl FnOnce() -> P,
        cmd: impl AsRef<OsStr>,
        opts: SubprocessOptions,
    ) -> impl Future<Output = Result<(Rc<SubprocessTransport>, Rc<RefCell<P>>)>>
    where
        P: SubprocessProtocol + 'static,
    {
        let args = vec![OsString::from("-c"), cmd.as_ref().to_owned()];
        exec::subprocess_exec(self.clone(), factory, OsString::from(SHELL), args, opts)
    }

    fn create_subprocess_exec(
        &self,
        program: impl AsRef<OsStr>,
        args: impl IntoIterator<Item = impl AsRef<OsStr>>,
        opts: SubprocessOptions,
    ) -> impl Future<Output = Result<Process>> {
        let program = program.as_ref().to_owned();
        let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        process::create(self.clone(), program, args, opts)
    }

    fn create_subprocess_shell(
        &self,
        cmd: impl AsRef<OsStr>,
        opts: SubprocessOptions,
    ) -> impl Future<Output = Result<Process>> {
        let args = vec![OsString::from("-c"), cmd.as_ref().to_owned()];
        process::create(self.clone(), OsString::from(SHELL), args, opts)
    }

    fn set_child_watcher(&self, watcher: ChildWatcher) -> Result<()> {
        LoopChildren::of(self)?.set_kind(watcher);
        Ok(())
    }

    fn child_watcher(&self) -> ChildWatcher {
        self.extension::<LoopChildren>().map_or(ChildWatcher::default(), |c| c.kind())
    }
}

/// The seal of [`ProcessExt`]: only [`Loop`] implements it.
mod sealed {
    pub trait Sealed {}
    impl Sealed for loop_core::Loop {}
}
