//! [`Barrier`]: a rendezvous point for a fixed number of tasks (asyncio 3.11).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::Error;
use crate::waiters::{self, WaiterKey, WaiterList};

/// The barrier's state machine, as in asyncio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Tasks arrive and wait.
    Filling,
    /// The last party arrived; the released tasks are leaving. Newcomers
    /// wait until all have left.
    Draining,
    /// `reset()` while tasks were inside; they leave with
    /// [`Error::BrokenBarrier`], newcomers wait until all have left.
    Resetting,
    /// `abort()`: every wait fails until `reset()`.
    Broken,
}

struct State {
    phase: Phase,
    /// Tasks inside the barrier: arrived and not yet left.
    count: usize,
    /// Tasks that arrived during `Filling`, waiting for the last party.
    arrived: WaiterList,
    /// Newcomers waiting for `Draining`/`Resetting` to end.
    blocked: WaiterList,
}

/// Lets `parties` tasks wait until all of them have arrived (asyncio's
/// `Barrier`, new in Python 3.11).
///
/// [`wait`](Self::wait) returns each task's arrival index, `0` to
/// `parties - 1`. After the last party arrives the barrier *drains*: the
/// released tasks leave, and tasks arriving meanwhile wait for the next
/// round. [`reset`](Self::reset) and [`abort`](Self::abort) make the tasks
/// inside fail with [`Error::BrokenBarrier`]; after `abort` every `wait`
/// fails until `reset`.
///
/// Unlike asyncio, `reset` and `abort` are plain functions: there is no
/// internal lock to take on one thread.
///
/// # Examples
///
/// ```
/// use loop_sync::Barrier;
/// # futures_lite::future::block_on(async {
/// let barrier = Barrier::new(2)?;
/// let ex = async_executor::LocalExecutor::new();
/// let first = ex.spawn(barrier.wait());
/// let second = ex.spawn(barrier.wait());
/// let (a, b) = ex.run(async { (first.await, second.await) }).await;
/// assert_eq!((a?, b?), (0, 1));
/// # Ok::<(), loop_sync::Error>(())
/// # }).unwrap();
/// ```
pub struct Barrier {
    parties: usize,
    state: RefCell<State>,
}

impl Barrier {
    /// A barrier for `parties` tasks.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `parties` is 0.
    pub fn new(parties: usize) -> Result<Self, Error> {
        if parties == 0 {
            return Err(Error::InvalidArgument("barrier parties must be > 0"));
        }
        Ok(Self {
            parties,
            state: RefCell::new(State {
                phase: Phase::Filling,
                count: 0,
                arrived: WaiterList::new(),
                blocked: WaiterList::new(),
            }),
        })
    }

    /// Waits until `parties` tasks have called `wait`; returns this task's
    /// arrival index (`parties - 1` for the task that completed the round).
    ///
    /// # Errors
    ///
    /// [`Error::BrokenBarrier`] if the barrier is broken, or is reset or
    /// aborted while this task waits in it (including after the round
    /// completed but before this task ran, as in asyncio).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes takes the task out of the
    /// barrier, as asyncio does on cancellation: the count of arrived tasks
    /// goes down and the barrier does not break.
    pub fn wait(&self) -> Wait<'_> {
        Wait { barrier: self, state: WaitState::Start }
    }

    /// Resets the barrier to its empty state. Tasks waiting in it fail with
    /// [`Error::BrokenBarrier`]; new arrivals wait until they have left.
    pub fn reset(&self) {
        {
            let mut s = self.state.borrow_mut();
            s.phase = if s.count > 0 { Phase::Resetting } else { Phase::Filling };
            s.arrived.notify_all();
            s.blocked.notify_all();
        }
        self.wake_queued();
    }

    /// Breaks the barrier: waiting and later `wait`s fail with
    /// [`Error::BrokenBarrier`] until [`reset`](Self::reset).
    pub fn abort(&self) {
        {
            let mut s = self.state.borrow_mut();
            s.phase = Phase::Broken;
            s.arrived.notify_all();
            s.blocked.notify_all();
        }
        self.wake_queued();
    }

    /// The number of tasks needed to pass the barrier.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// The number of tasks waiting for the round to fill (0 while draining
    /// or resetting, as in asyncio).
    pub fn n_waiting(&self) -> usize {
        let s = self.state.borrow();
        if s.phase == Phase::Filling { s.count } else { 0 }
    }

    /// Whether the barrier is broken (aborted and not reset).
    pub fn broken(&self) -> bool {
        self.state.borrow().phase == Phase::Broken
    }

    fn wake_queued(&self) {
        waiters::wake_queued(&self.state, |s| &mut s.arrived);
        waiters::wake_queued(&self.state, |s| &mut s.blocked);
    }

    /// A task leaves the barrier; the last one out ends draining/resetting
    /// and lets blocked newcomers in (asyncio's `_exit`).
    fn leave(&self) {
        {
            let mut s = self.state.borrow_mut();
            s.count -= 1;
            if s.count != 0 {
                return;
            }
            if matches!(s.phase, Phase::Draining | Phase::Resetting) {
                s.phase = Phase::Filling;
            }
            s.blocked.notify_all();
        }
        waiters::wake_queued(&self.state, |s| &mut s.blocked);
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Barrier");
        d.field("parties", &self.parties);
        if let Ok(s) = self.state.try_borrow() {
            d.field("phase", &s.phase).field("count", &s.count);
        }
        d.finish()
    }
}

enum WaitState {
    Start,
    /// Waiting for draining/resetting to end; not counted yet.
    Blocked(WaiterKey),
    /// Counted in the barrier with this arrival index.
    Arrived(usize, WaiterKey),
    Done,
}

/// The future returned by [`Barrier::wait`].
///
/// Polling it again after it completed returns `Pending`.
#[must_use = "futures do nothing unless polled"]
pub struct Wait<'a> {
    barrier: &'a Barrier,
    state: WaitState,
}

impl Future for Wait<'_> {
    type Output = Result<usize, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let barrier = this.barrier;
        loop {
            let mut s = barrier.state.borrow_mut();
            match std::mem::replace(&mut this.state, WaitState::Done) {
                WaitState::Start => match s.phase {
                    Phase::Broken => return Poll::Ready(Err(Error::BrokenBarrier)),
                    Phase::Draining | Phase::Resetting => {
                        this.state = WaitState::Blocked(s.blocked.register(cx.waker()));
                        return Poll::Pending;
                    }
                    Phase::Filling => {
                        let index = s.count;
                        s.count += 1;
                        if s.count < barrier.parties {
                            this.state = WaitState::Arrived(index, s.arrived.register(cx.waker()));
                            return Poll::Pending;
                        }
                        // The last party: release the others and leave.
                        s.phase = Phase::Draining;
                        s.arrived.notify_all();
                        drop(s);
                        waiters::wake_queued(&barrier.state, |s| &mut s.arrived);
                        barrier.leave();
                        return Poll::Ready(Ok(index));
                    }
                },
                WaitState::Blocked(key) => {
                    if !s.blocked.poll(&key, cx.waker()) {
                        this.state = WaitState::Blocked(key);
                        return Poll::Pending;
                    }
                    s.blocked.remove(key);
                    this.state = WaitState::Start;
                }
                WaitState::Arrived(index, key) => {
                    if !s.arrived.poll(&key, cx.waker()) {
                        this.state = WaitState::Arrived(index, key);
                        return Poll::Pending;
                    }
                    s.arrived.remove(key);
                    let result = match s.phase {
                        Phase::Filling => {
                            // Spurious: still waiting for the round.
                            this.state = WaitState::Arrived(index, s.arrived.register(cx.waker()));
                            return Poll::Pending;
                        }
                        Phase::Draining => Ok(index),
                        Phase::Resetting | Phase::Broken => Err(Error::BrokenBarrier),
                    };
                    drop(s);
                    barrier.leave();
                    return Poll::Ready(result);
                }
                WaitState::Done => return Poll::Pending,
            }
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, WaitState::Done) {
            WaitState::Blocked(key) => {
                // Blocked tasks are woken all at once: nothing to pass on.
                self.barrier.state.borrow_mut().blocked.remove(key);
            }
            WaitState::Arrived(_, key) => {
                self.barrier.state.borrow_mut().arrived.remove(key);
                self.barrier.leave();
            }
            WaitState::Start | WaitState::Done => {}
        }
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            WaitState::Start => "start",
            WaitState::Blocked(_) => "blocked",
            WaitState::Arrived(..) => "arrived",
            WaitState::Done => "done",
        };
        f.debug_struct("Wait").field("state", &state).finish()
    }
}
