//! `subprocess_exec` / `subprocess_shell`: spawn the child, start watching
//! it, connect its pipes, then hand the protocol its transport.

use std::cell::RefCell;
use std::ffi::OsString;
use std::rc::Rc;

use loop_core::Loop;
use loop_transports::NetExt;

use crate::error::{Error, Result};
use crate::options::SubprocessOptions;
use crate::pipes::{ReadPipeProtocol, WritePipeProtocol};
use crate::protocol::{ProtocolRef, SubprocessProtocol};
use crate::spawn;
use crate::transport::SubprocessTransport;
use crate::watcher::LoopChildren;

/// The shell `subprocess_shell` runs commands with.
pub(crate) const SHELL: &str = "/bin/sh";

/// Closes the transport (killing the child) unless disarmed: a failed or
/// dropped start leaves nothing running.
struct CloseOnDrop(Option<Rc<SubprocessTransport>>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.close();
        }
    }
}

/// Spawns `program` with `args` and connects it to a protocol made by
/// `factory`; resolves after `connection_made` ran.
pub(crate) async fn subprocess_exec<P>(
    lp: Loop,
    factory: impl FnOnce() -> P,
    program: OsString,
    args: Vec<OsString>,
    opts: SubprocessOptions,
) -> Result<(Rc<SubprocessTransport>, Rc<RefCell<P>>)>
where
    P: SubprocessProtocol + 'static,
{
    if lp.is_closed() {
        return Err(Error::Loop(loop_core::Error::LoopClosed));
    }
    let children = LoopChildren::of(&lp)?;
    let proto = Rc::new(RefCell::new(factory()));
    let spawned = spawn::spawn(&program, &args, opts)?;
    // On failure the child is killed and reaped, and the pipes (still in
    // `spawned`) are closed as this returns.
    let child = children.adopt(&lp, spawned.pid)?;
    let piped = [spawned.stdin.is_some(), spawned.stdout.is_some(), spawned.stderr.is_some()];
    let t = SubprocessTransport::new(&lp, child.clone(), ProtocolRef::new(proto.clone()), piped);
    children.observe(&child, t.clone());
    let mut guard = CloseOnDrop(Some(t.clone()));

    if let Some(fd) = spawned.stdin {
        let owner = t.clone();
        let (pipe, _) = lp.connect_write_pipe(move || WritePipeProtocol { owner }, fd).await?;
        t.set_pipe(0, pipe);
    }
    for (n, fd) in [(1, spawned.stdout), (2, spawned.stderr)] {
        if let Some(fd) = fd {
            let owner = t.clone();
            let (pipe, _) =
                lp.connect_read_pipe(move || ReadPipeProtocol { fd: n, owner }, fd).await?;
            t.set_pipe(n as usize, pipe);
        }
    }

    // From the task that awaits this call, not from inside a transport
    // method: the protocol sees no re-entry.
    t.connection_made();
    guard.0 = None;
    Ok((t, proto))
}
