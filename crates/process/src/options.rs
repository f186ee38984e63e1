//! How to spawn a child: its stdio, working directory, environment, process
//! group or session, user and group (asyncio's keyword arguments to
//! `subprocess_exec`, as one struct with a builder).

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// What one of the child's standard streams is connected to (asyncio's
/// `PIPE`, `None`, `DEVNULL`, a file object, `STDOUT`).
#[derive(Debug, Default)]
pub enum Stdio {
    /// A new pipe; the parent's end becomes a pipe transport
    /// ([`SubprocessTransport::get_pipe_transport`](crate::SubprocessTransport::get_pipe_transport)).
    /// The default, as in asyncio's `subprocess_exec`.
    #[default]
    Pipe,
    /// The parent's own stream (asyncio's `None`).
    Inherit,
    /// `/dev/null` (asyncio's `DEVNULL`).
    DevNull,
    /// This descriptor: a file, a socket, one end of a pipe made elsewhere.
    /// The child gets a copy; the parent's is closed once the child is
    /// spawned (pass `fd.try_clone()?` to keep one).
    Fd(OwnedFd),
    /// Whatever stdout is connected to (asyncio's `STDOUT`); for stderr
    /// only.
    Stdout,
}

/// How [`subprocess_exec`](crate::ProcessExt::subprocess_exec) and its
/// siblings spawn the child. `Default` is asyncio's `subprocess_exec`:
/// three pipes, the parent's directory and environment, the parent's
/// process group, and (for a [`Process`](crate::Process)'s readers) a
/// 64 KiB buffer limit.
///
/// [`create_subprocess_exec`](crate::ProcessExt::create_subprocess_exec)
/// takes the same options, with the same defaults: three pipes. asyncio's
/// `create_subprocess_exec` defaults to inheriting the three streams
/// instead; pass [`Stdio::Inherit`] for that.
///
/// ```
/// use loop_process::{Stdio, SubprocessOptions};
///
/// let opts = SubprocessOptions::new()
///     .stdin(Stdio::DevNull)
///     .stderr(Stdio::Stdout)
///     .cwd("/tmp")
///     .env_clear()
///     .env("PATH", "/usr/bin:/bin")
///     .new_session();
/// # let _ = opts;
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct SubprocessOptions {
    /// The child's stdin.
    pub stdin: Stdio,
    /// The child's stdout; [`Stdio::Stdout`] is refused.
    pub stdout: Stdio,
    /// The child's stderr.
    pub stderr: Stdio,
    /// The child's working directory; `None` keeps the parent's.
    pub cwd: Option<PathBuf>,
    /// Start from an empty environment instead of the parent's.
    pub env_clear: bool,
    /// Environment changes, applied in order after `env_clear`: `Some`
    /// sets the variable, `None` removes it.
    pub env: Vec<(OsString, Option<OsString>)>,
    /// Put the child in this process group (`setpgid`); `Some(0)` makes it
    /// the leader of a new group named after its pid (asyncio's
    /// `process_group`).
    pub process_group: Option<i32>,
    /// Make the child the leader of a new session (`setsid`, asyncio's
    /// `start_new_session`). Excludes `process_group`.
    pub new_session: bool,
    /// Run the child as this user id (`setuid`).
    pub uid: Option<u32>,
    /// Run the child as this group id (`setgid`).
    pub gid: Option<u32>,
    /// The child's `argv[0]`, when it should differ from the program.
    pub arg0: Option<OsString>,
    /// The buffer limit of a [`Process`](crate::Process)'s stdout and
    /// stderr readers (asyncio's `limit`, default
    /// [`DEFAULT_LIMIT`](loop_streams::DEFAULT_LIMIT), 64 KiB; see
    /// [`StreamReader`](loop_streams::StreamReader)). Must not be 0.
    /// `subprocess_exec` and `subprocess_shell` ignore it.
    pub limit: usize,
}

impl Default for SubprocessOptions {
    fn default() -> Self {
        SubprocessOptions {
            stdin: Stdio::default(),
            stdout: Stdio::default(),
            stderr: Stdio::default(),
            cwd: None,
            env_clear: false,
            env: Vec::new(),
            process_group: None,
            new_session: false,
            uid: None,
            gid: None,
            arg0: None,
            limit: loop_streams::DEFAULT_LIMIT,
        }
    }
}

impl SubprocessOptions {
    /// asyncio's defaults: three pipes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets stdin.
    pub fn stdin(mut self, stdio: Stdio) -> Self {
        self.stdin = stdio;
        self
    }

    /// Sets stdout.
    pub fn stdout(mut self, stdio: Stdio) -> Self {
        self.stdout = stdio;
        self
    }

    /// Sets stderr.
    pub fn stderr(mut self, stdio: Stdio) -> Self {
        self.stderr = stdio;
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Starts from an empty environment (changes made with
    /// [`env`](Self::env) still apply).
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Puts the child in process group `pgid` (0: a new group it leads).
    pub fn process_group(mut self, pgid: i32) -> Self {
        self.process_group = Some(pgid);
        self
    }

    /// Makes the child lead a new session.
    pub fn new_session(mut self) -> Self {
        self.new_session = true;
        self
    }

    /// Runs the child as user `uid`.
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    /// Runs the child as group `gid`.
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = Some(gid);
        self
    }

    /// Sets the child's `argv[0]`.
    pub fn arg0(mut self, arg0: impl AsRef<OsStr>) -> Self {
        self.arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Sets the buffer limit of a [`Process`](crate::Process)'s readers.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}
