//! Spawning: options checked, a `std::process::Command` built from them,
//! the child started, and a failure turned into a typed error.
//!
//! std does the delicate part: `posix_spawn` (glibc's `clone(CLONE_VM |
//! CLONE_VFORK)`: no copy of the parent's address space), or `fork` +
//! `exec` with a close-on-exec error pipe when an option needs code in the
//! child; either way a failed `exec` comes back as the child's errno, the
//! failed child is reaped, and every descriptor opened for it is closed.
//! std resets `SIGPIPE` (which Rust programs ignore) to its default in the
//! child; `exec` resets every handled signal (such as the loop's) to its
//! default. The signal mask is inherited from the spawning thread: when
//! that thread blocks any signal, our `pre_exec` hook
//! (`sys::reset_signals`) empties the child's mask — at the price of
//! `fork` + `exec` — and otherwise nothing needs doing and std can use
//! `posix_spawn`. Every descriptor the parent keeps is close-on-exec.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::options::{Stdio, SubprocessOptions};
use crate::sys;

/// A child just spawned: its pid and the parent's ends of its pipes.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pid: u32,
    pub(crate) stdin: Option<OwnedFd>,
    pub(crate) stdout: Option<OwnedFd>,
    pub(crate) stderr: Option<OwnedFd>,
}

/// Spawns `program` with `args` (not including `argv[0]`).
pub(crate) fn spawn(
    program: &OsStr,
    args: &[OsString],
    opts: SubprocessOptions,
) -> Result<Spawned> {
    check_no_nul(program, "the program")?;
    for (i, arg) in args.iter().enumerate() {
        check_no_nul(arg, &format!("argument {}", i + 1))?;
    }
    let mut cmd = Command::new(program);
    cmd.args(args);
    if !sys::thread_mask_is_empty() {
        sys::reset_signals(&mut cmd);
    }
    if let Some(arg0) = &opts.arg0 {
        check_no_nul(arg0, "arg0")?;
        cmd.arg0(arg0);
    }
    if let Some(dir) = &opts.cwd {
        check_no_nul(dir.as_os_str(), "the working directory")?;
        cmd.current_dir(dir);
    }
    if opts.env_clear {
        cmd.env_clear();
    }
    for (key, value) in &opts.env {
        check_env_key(key)?;
        match value {
            Some(v) => {
                check_no_nul(v, &format!("the value of environment variable {key:?}"))?;
                cmd.env(key, v);
            }
            None => {
                cmd.env_remove(key);
            }
        }
    }
    match (opts.process_group, opts.new_session) {
        (Some(_), true) => {
            return Err(Error::invalid(
                "process_group and new_session exclude each other (a new session is a new group)",
            ));
        }
        (Some(pgid), false) if pgid < 0 => {
            return Err(Error::invalid(format!("process group {pgid} is negative")));
        }
        (Some(pgid), false) => {
            cmd.process_group(pgid);
        }
        (None, true) => sys::new_session(&mut cmd),
        (None, false) => {}
    }
    if let Some(uid) = opts.uid {
        cmd.uid(uid);
    }
    if let Some(gid) = opts.gid {
        cmd.gid(gid);
    }
    let program_name = program.to_string_lossy().into_owned();
    let cwd = opts.cwd.clone();
    let (stdin_piped, stdout_piped, stderr_piped, extra_stdout) = configure_stdio(&mut cmd, opts)?;
    let mut child = cmd.spawn().map_err(|e| spawn_error(program_name, cwd, e))?;
    let stdin = child.stdin.take().map(OwnedFd::from).filter(|_| stdin_piped);
    let stdout = child.stdout.take().map(OwnedFd::from).filter(|_| stdout_piped).or(extra_stdout);
    let stderr = child.stderr.take().map(OwnedFd::from).filter(|_| stderr_piped);
    // Dropping std's `Child` neither waits nor kills: the child is ours to
    // reap, by pid or pidfd, through the loop's watcher.
    Ok(Spawned { pid: child.id(), stdin, stdout, stderr })
}

/// Connects the three streams; returns which are std pipes, and the
/// parent's end of a pipe shared by stdout and stderr (`Stdio::Stdout`).
fn configure_stdio(
    cmd: &mut Command,
    opts: SubprocessOptions,
) -> Result<(bool, bool, bool, Option<OwnedFd>)> {
    if matches!(opts.stdin, Stdio::Stdout) {
        return Err(Error::invalid("Stdio::Stdout is for stderr only, not stdin"));
    }
    if matches!(opts.stdout, Stdio::Stdout) {
        return Err(Error::invalid("Stdio::Stdout is for stderr only, not stdout"));
    }
    let stdin_piped = matches!(opts.stdin, Stdio::Pipe);
    cmd.stdin(std_stdio(opts.stdin));
    if !matches!(opts.stderr, Stdio::Stdout) {
        let stdout_piped = matches!(opts.stdout, Stdio::Pipe);
        let stderr_piped = matches!(opts.stderr, Stdio::Pipe);
        cmd.stdout(std_stdio(opts.stdout));
        cmd.stderr(std_stdio(opts.stderr));
        return Ok((stdin_piped, stdout_piped, stderr_piped, None));
    }
    // stderr goes wherever stdout goes: both get a copy of one descriptor.
    match opts.stdout {
        Stdio::Pipe => {
            let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
            cmd.stdout(write.try_clone()?);
            cmd.stderr(write);
            Ok((stdin_piped, false, false, Some(read)))
        }
        Stdio::Inherit => {
            let out = io::stdout().as_fd().try_clone_to_owned()?;
            cmd.stdout(std::process::Stdio::inherit());
            cmd.stderr(out);
            Ok((stdin_piped, false, false, None))
        }
        Stdio::DevNull => {
            cmd.stdout(std::process::Stdio::null());
            cmd.stderr(std::process::Stdio::null());
            Ok((stdin_piped, false, false, None))
        }
        Stdio::Fd(fd) => {
            cmd.stdout(fd.try_clone()?);
            cmd.stderr(fd);
            Ok((stdin_piped, false, false, None))
        }
        // Refused above.
        Stdio::Stdout => Err(Error::invalid("Stdio::Stdout is for stderr only, not stdout")),
    }
}

fn std_stdio(s: Stdio) -> std::process::Stdio {
    match s {
        Stdio::Pipe => std::process::Stdio::piped(),
        Stdio::Inherit | Stdio::Stdout => std::process::Stdio::inherit(),
        Stdio::DevNull => std::process::Stdio::null(),
        Stdio::Fd(fd) => std::process::Stdio::from(fd),
    }
}

/// Names the culprit of a failed spawn: the working directory when it is
/// not a directory, else the program. The OS error is kept.
fn spawn_error(program: String, cwd: Option<std::path::PathBuf>, err: io::Error) -> Error {
    let source = Arc::new(err);
    if let Some(cwd) = cwd {
        if !std::fs::metadata(&cwd).is_ok_and(|m| m.is_dir()) {
            return Error::Cwd { program, cwd, source };
        }
    }
    if source.kind() == io::ErrorKind::NotFound {
        Error::ProgramNotFound { program, source }
    } else {
        Error::Spawn { program, source }
    }
}

fn check_no_nul(s: &OsStr, what: &str) -> Result<()> {
    if s.as_bytes().contains(&0) {
        return Err(Error::invalid(format!("{what} contains a NUL byte: {s:?}")));
    }
    Ok(())
}

fn check_env_key(key: &OsStr) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid("an environment variable name is empty"));
    }
    if key.as_bytes().contains(&b'=') {
        return Err(Error::invalid(format!("environment variable name {key:?} contains '='")));
    }
    check_no_nul(key, "an environment variable name")
}
