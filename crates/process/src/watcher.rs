//! Child watching, per loop (asyncio's `PidfdChildWatcher`, with
//! `ThreadedChildWatcher` as the fallback).
//!
//! # How an exit is noticed
//!
//! Each child gets a pidfd (`pidfd_open`, Linux ≥ 5.3), registered with
//! the loop through `add_reader`: it becomes readable when the child
//! exits, and the reader reaps that one child with `waitid(P_PIDFD)`. No
//! signal, no thread, and it works on any thread. Where `pidfd_open`
//! fails (an older kernel: `ENOSYS`; a seccomp filter), or when
//! [`ChildWatcher::Threaded`] is chosen, a thread per child blocks in
//! `waitid(P_PID, WNOWAIT)` — which waits without reaping — and then asks
//! the loop, through `call_soon_threadsafe`, to reap. Reaping always
//! happens on the loop's thread, the thread that sends signals, so a
//! `kill(pid)` can never reach a recycled pid.
//!
//! The `waitid(-1)`-based watchers of asyncio (`SafeChildWatcher`,
//! `FastChildWatcher`, `MultiLoopChildWatcher`) are not offered: they need
//! a process-wide `SIGCHLD` handler, and `FastChildWatcher` reaps children
//! it did not spawn, breaking other code (`std::process::Command::wait`,
//! other loops). Nothing here reaps a child it did not spawn — which also
//! means that a program running as PID 1 must reap the orphans the kernel
//! re-parents to it itself.
//!
//! # State
//!
//! The loop keeps its watcher in its extension slot for [`LoopChildren`]:
//! the children still running, each with the callback that receives its
//! exit status. The reader of a pidfd finds the watcher there through a
//! weak loop handle.
//!
//! # When the loop closes with children still running
//!
//! As in asyncio, they are left running: closing a loop kills nobody.
//! Their callbacks are dropped (no `process_exited` will come), and they
//! are still reaped, so none stays a zombie: a child that already exited
//! is reaped at once; pidfd children still running are handed to one
//! reaper thread (`tulip-reaper`), which polls their pidfds and reaps each
//! as it exits, then ends; a pidfd-less child's own thread reaps it. A
//! transport of such a child can still signal it (through its pidfd, or
//! its pid while provably unreaped).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::Arc;

use loop_core::{Loop, LoopExtension, RemoteLoop};
use rustix::process::Pid;

use crate::child::{Child, ThreadShared, Tracking};
use crate::error::{Error, Result};
use crate::status::ExitStatus;
use crate::sys;

/// How a loop notices its children's exits (asyncio's child watchers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildWatcher {
    /// A pidfd per child, watched by the loop (asyncio's
    /// `PidfdChildWatcher`); a thread per child where the kernel has no
    /// pidfds. The default.
    #[default]
    Pidfd,
    /// A thread per child, blocked until it exits (asyncio's
    /// `ThreadedChildWatcher`).
    Threaded,
}

/// Stack size of the watcher and reaper threads: they only wait and reap.
const WATCHER_STACK: usize = 64 * 1024;

/// What the watcher tells the owner of a child (its transport).
pub(crate) trait ExitObserver {
    /// The child was reaped; its status is in the `Child`.
    fn child_exited(&self);

    /// The loop is closing with the child still running: no exit will be
    /// reported; let go of what the loop can no longer deliver to.
    fn loop_closed(&self);
}

struct Entry {
    child: Rc<Child>,
    observer: Option<Rc<dyn ExitObserver>>,
}

/// One loop's child watcher, in the loop's extension slot.
pub(crate) struct LoopChildren {
    remote: RemoteLoop,
    kind: Cell<ChildWatcher>,
    children: RefCell<HashMap<i32, Entry>>,
}

impl fmt::Debug for LoopChildren {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopChildren")
            .field("kind", &self.kind.get())
            .field("children", &self.children.borrow().len())
            .finish()
    }
}

impl LoopChildren {
    /// The loop's watcher, created on first use.
    pub(crate) fn of(lp: &Loop) -> Result<Rc<LoopChildren>> {
        lp.extension_or_try_insert_with(|| {
            Ok::<_, Error>(LoopChildren {
                remote: lp.remote(),
                kind: Cell::new(ChildWatcher::default()),
                children: RefCell::new(HashMap::new()),
            })
        })
    }

    pub(crate) fn kind(&self) -> ChildWatcher {
        self.kind.get()
    }

    pub(crate) fn set_kind(&self, kind: ChildWatcher) {
        self.kind.set(kind);
    }

    /// Starts watching child `pid`, just spawned by this loop. On failure
    /// the child is killed and reaped before the error is returned.
    pub(crate) fn adopt(&self, lp: &Loop, pid: u32) -> Result<Rc<Child>> {
        let Some(pid) = sys::pid(pid) else {
            return Err(Error::invalid(format!("{pid} is not a pid")));
        };
        let adopted = match self.kind.get() {
            ChildWatcher::Pidfd => match sys::pidfd_open(pid) {
                Ok(fd) => self.watch_pidfd(lp, pid, fd),
                Err(e) => {
                    tracing::debug!("pidfd_open failed ({e}); watching the child with a thread");
                    self.watch_thread(pid)
                }
            },
            ChildWatcher::Threaded => self.watch_thread(pid),
        };
        match adopted {
            Ok(child) => {
                let entry = Entry { child: child.clone(), observer: None };
                self.children.borrow_mut().insert(pid.as_raw_pid(), entry);
                Ok(child)
            }
            Err(e) => {
                let _ = sys::kill(pid, rustix::process::Signal::KILL);
                let _ = sys::reap_pid_blocking(pid);
                Err(e)
            }
        }
    }

    /// Sets who hears of `child`'s exit. Called right after
    /// [`adopt`](Self::adopt), before the loop can notice an exit.
    pub(crate) fn observe(&self, child: &Child, observer: Rc<dyn ExitObserver>) {
        if let Some(entry) = self.children.borrow_mut().get_mut(&child.raw_pid().as_raw_pid()) {
            entry.observer = Some(observer);
        }
    }

    fn watch_pidfd(&self, lp: &Loop, pid: Pid, fd: OwnedFd) -> Result<Rc<Child>> {
        let weak = lp.downgrade();
        let raw = pid.as_raw_pid();
        lp.add_reader(&fd, move || {
            if let Some(lp) = weak.upgrade() {
                if let Some(children) = lp.extension::<LoopChildren>() {
                    children.on_pidfd_readable(&lp, raw);
                }
            }
        })?;
        Ok(Rc::new(Child::new(pid, Tracking::Pidfd(RefCell::new(Some(Arc::new(fd)))))))
    }

    fn watch_thread(&self, pid: Pid) -> Result<Rc<Child>> {
        let shared = Arc::new(ThreadShared::new(pid));
        let remote = self.remote.clone();
        let theirs = shared.clone();
        std::thread::Builder::new()
            .name("tulip-child-watcher".into())
            .stack_size(WATCHER_STACK)
            .spawn(move || watch_thread_main(&theirs, &remote))?;
        Ok(Rc::new(Child::new(pid, Tracking::Threaded(shared))))
    }

    /// A pidfd is readable: reap that child if it exited.
    fn on_pidfd_readable(&self, lp: &Loop, raw: i32) {
        let Some(child) = self.children.borrow().get(&raw).map(|e| e.child.clone()) else {
            return;
        };
        let Tracking::Pidfd(fd) = child.tracking() else { return };
        let reaped = match &*fd.borrow() {
            Some(fd) => sys::try_reap_pidfd(std::os::fd::AsFd::as_fd(&**fd)),
            None => return,
        };
        match reaped {
            Ok(Some(status)) => {
                if let Some(fd) = &*fd.borrow() {
                    // Fails only if the loop is closed: its readers are gone.
                    let _ = lp.remove_reader(&**fd);
                }
                self.finish(&child, status);
            }
            // Readable before the exit is reportable cannot happen; wait on.
            Ok(None) => {}
            Err(e) => tracing::warn!(pid = raw, "waitid on a pidfd failed: {e}"),
        }
    }

    /// The thread of child `raw` saw it exit: reap it here.
    fn on_thread_report(&self, raw: i32) {
        let Some(child) = self.children.borrow().get(&raw).map(|e| e.child.clone()) else {
            return;
        };
        let Tracking::Threaded(shared) = child.tracking() else { return };
        let status = shared.reap_locked(&mut shared.lock());
        if let Some(status) = status {
            self.finish(&child, status);
        }
    }

    /// Records the status, forgets the child and tells its observer.
    fn finish(&self, child: &Child, status: ExitStatus) {
        child.set_status(status);
        let entry = self.children.borrow_mut().remove(&child.raw_pid().as_raw_pid());
        if let Some(observer) = entry.and_then(|e| e.observer) {
            observer.child_exited();
        }
    }
}

/// The body of a pidfd-less child's thread: wait for the exit without
/// reaping, then have the loop reap — or reap here if the loop is gone.
fn watch_thread_main(shared: &Arc<ThreadShared>, remote: &RemoteLoop) {
    sys::wait_exit_unreaped(shared.pid);
    let mut st = shared.lock();
    st.exited = true;
    if st.orphaned {
        shared.reap_locked(&mut st);
        return;
    }
    drop(st);
    let raw = shared.pid.as_raw_pid();
    let posted = remote.call_soon_threadsafe(move || {
        if let Ok(lp) = loop_core::get_running_loop() {
            if let Some(children) = lp.extension::<LoopChildren>() {
                children.on_thread_report(raw);
            }
        }
    });
    if posted.is_err() {
        // The loop closed; its close hook marked the child orphaned (and
        // reaped it if it saw the exit first).
        let mut st = shared.lock();
        shared.reap_locked(&mut st);
    }
}

impl LoopExtension for LoopChildren {
    /// The loop is closing: leave the running children running, drop their
    /// callbacks, and make sure each is reaped (see the module docs).
    fn on_close(&self) {
        let entries: Vec<Entry> = self.children.borrow_mut().drain().map(|(_, e)| e).collect();
        let mut running: Vec<(i32, Arc<OwnedFd>)> = Vec::new();
        for entry in &entries {
            let child = &entry.child;
            match child.tracking() {
                Tracking::Pidfd(fd) => {
                    let Some(fd) = fd.borrow().clone() else { continue };
                    match sys::try_reap_pidfd(std::os::fd::AsFd::as_fd(&*fd)) {
                        Ok(Some(status)) => child.set_status(status),
                        Ok(None) => running.push((child.raw_pid().as_raw_pid(), fd)),
                        Err(e) => tracing::warn!("waitid on a pidfd failed: {e}"),
                    }
                }
                Tracking::Threaded(shared) => {
                    let mut st = shared.lock();
                    st.orphaned = true;
                    if st.exited {
                        if let Some(status) = shared.reap_locked(&mut st) {
                            drop(st);
                            child.set_status(status);
                        }
                    }
                }
            }
        }
        // The observers (transports) let go of their protocols and pipes,
        // after every borrow is released.
        for entry in entries {
            if let Some(observer) = entry.observer {
                observer.loop_closed();
            }
        }
        if !running.is_empty() {
            spawn_reaper(running);
        }
    }
}

/// Reaps pidfd children left running by a closed loop, from one thread
/// that ends with the last of them.
fn spawn_reaper(mut running: Vec<(i32, Arc<OwnedFd>)>) {
    let pids: Vec<i32> = running.iter().map(|(pid, _)| *pid).collect();
    let spawned = std::thread::Builder::new()
        .name("tulip-reaper".into())
        .stack_size(WATCHER_STACK)
        .spawn(move || {
            while !running.is_empty() {
                let fds: Vec<&OwnedFd> = running.iter().map(|(_, fd)| &**fd).collect();
                let ready = sys::poll_exited(&fds);
                drop(fds);
                for i in ready.into_iter().rev() {
                    let fd = &running[i].1;
                    match sys::try_reap_pidfd(std::os::fd::AsFd::as_fd(&**fd)) {
                        Ok(None) => {}
                        Ok(Some(_)) | Err(_) => {
                            running.swap_remove(i);
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        // Without a thread nobody could reap them later: end them now
        // rather than leave zombies.
        tracing::warn!("cannot start the reaper thread ({e}); killing the children left running");
        for pid in pids.into_iter().filter_map(Pid::from_raw) {
            // Unreaped children of ours: the pids are still theirs.
            let _ = sys::kill(pid, rustix::process::Signal::KILL);
            let _ = sys::reap_pid_blocking(pid);
        }
    }
}
