//! Obtaining loops: the running loop, the thread's current loop, policies.
//!
//! One loop at most runs on a thread at a time; while it runs it is the
//! thread's *running loop* ([`get_running_loop`]). Independently, each thread
//! has a *current loop* managed by the event-loop policy
//! ([`get_event_loop`] / [`set_event_loop`]).

use std::cell::RefCell;
use std::sync::{Arc, RwLock};

use crate::Loop;
use crate::error::{Error, Result};

thread_local! {
    static RUNNING: RefCell<Option<Loop>> = const { RefCell::new(None) };
    static CURRENT: RefCell<Option<Loop>> = const { RefCell::new(None) };
}

/// The loop running on this thread (asyncio's `get_running_loop`).
///
/// # Errors
///
/// [`Error::NoRunningLoop`] outside a running loop.
pub fn get_running_loop() -> Result<Loop> {
    RUNNING.with(|r| r.borrow().clone()).ok_or(Error::NoRunningLoop)
}

/// Whether a loop runs on this thread that `is_mine` does not recognise
/// (awaiting a task or future of another loop from it would never end).
pub(crate) fn another_loop_runs(is_mine: impl FnOnce(&Loop) -> bool) -> bool {
    RUNNING
        .try_with(|r| r.try_borrow().ok()?.as_ref().map(|lp| !is_mine(lp)))
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Fails if `lp` cannot start running on this thread now.
pub(crate) fn check_can_run(lp: &Loop) -> Result<()> {
    if lp.is_running() {
        return Err(Error::LoopRunning);
    }
    match RUNNING.with(|r| r.borrow().clone()) {
        Some(other) if other.ptr_eq(lp) => Err(Error::LoopRunning),
        Some(_) => Err(Error::AnotherLoopRunning),
        None => Ok(()),
    }
}

/// Marks `lp` as this thread's running loop until the guard drops.
pub(crate) fn enter_running(lp: &Loop) -> Result<RunningGuard> {
    check_can_run(lp)?;
    RUNNING.with(|r| *r.borrow_mut() = Some(lp.clone()));
    Ok(RunningGuard(()))
}

pub(crate) struct RunningGuard(());

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let _ = RUNNING.try_with(|r| r.borrow_mut().take());
    }
}

/// How loops are obtained (asyncio's event-loop policy).
pub trait EventLoopPolicy: Send + Sync {
    /// The current thread's loop.
    ///
    /// # Errors
    ///
    /// Whatever prevents having one (the default policy creates one).
    fn get_event_loop(&self) -> Result<Loop>;
    /// Sets (or clears) the current thread's loop.
    fn set_event_loop(&self, lp: Option<Loop>);
    /// A new loop.
    ///
    /// # Errors
    ///
    /// The OS refused the loop's resources.
    fn new_event_loop(&self) -> Result<Loop>;
}

/// The default policy: a current loop per thread, created on first use, of
/// the default kind ([`Loop::new`], over [`EpollDriver`](crate::driver::EpollDriver)).
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultEventLoopPolicy;

impl EventLoopPolicy for DefaultEventLoopPolicy {
    fn get_event_loop(&self) -> Result<Loop> {
        if let Some(lp) = CURRENT.with(|c| c.borrow().clone()) {
            return Ok(lp);
        }
        let lp = self.new_event_loop()?;
        CURRENT.with(|c| *c.borrow_mut() = Some(lp.clone()));
        Ok(lp)
    }

    fn set_event_loop(&self, lp: Option<Loop>) {
        CURRENT.with(|c| *c.borrow_mut() = lp);
    }

    fn new_event_loop(&self) -> Result<Loop> {
        Loop::new()
    }
}

static POLICY: RwLock<Option<Arc<dyn EventLoopPolicy>>> = RwLock::new(None);

/// The process's event-loop policy.
pub fn get_event_loop_policy() -> Arc<dyn EventLoopPolicy> {
    let guard = POLICY.read().unwrap_or_else(|e| e.into_inner());
    guard.clone().unwrap_or_else(|| Arc::new(DefaultEventLoopPolicy))
}

/// Replaces (or, with `None`, resets) the process's event-loop policy.
pub fn set_event_loop_policy(policy: Option<Arc<dyn EventLoopPolicy>>) {
    *POLICY.write().unwrap_or_else(|e| e.into_inner()) = policy;
}

/// The running loop if there is one, else the policy's current loop for
/// this thread (created on first use by the default policy).
///
/// # Errors
///
/// The policy's error (the default policy fails only if the OS refuses a
/// new loop's resources).
pub fn get_event_loop() -> Result<Loop> {
    match get_running_loop() {
        Ok(lp) => Ok(lp),
        Err(_) => get_event_loop_policy().get_event_loop(),
    }
}

/// Sets (or clears) this thread's current loop through the policy.
pub fn set_event_loop(lp: Option<Loop>) {
    get_event_loop_policy().set_event_loop(lp);
}

/// A new loop from the policy (asyncio's `new_event_loop`).
///
/// # Errors
///
/// The OS refused the loop's resources.
pub fn new_event_loop() -> Result<Loop> {
    get_event_loop_policy().new_event_loop()
}
