//! `timeout`, `timeout_at` and `wait_for`: bound a future by a deadline on
//! the loop's clock (asyncio's `asyncio.timeout` / `asyncio.wait_for`).

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::helpers::sleep::{Sleep, sleep_until};
use crate::task::TaskRef;

#[derive(Clone, Copy, Debug)]
enum Deadline {
    /// Relative: fixed at the first poll.
    After(Duration),
    At(Instant),
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    Completed,
    /// The deadline passed; the tasks the dropped inner future cancelled
    /// are finishing.
    Cancelling,
    TimedOut,
}

/// The tasks a timed-out inner future cancelled as it was dropped, and
/// the waker their done callbacks wake.
struct Cancelling {
    tasks: Vec<TaskRef>,
    waker: Rc<Cell<Option<Waker>>>,
}

impl Cancelling {
    fn new(tasks: Vec<TaskRef>) -> Self {
        let waker: Rc<Cell<Option<Waker>>> = Rc::new(Cell::new(None));
        for t in &tasks {
            let w = waker.clone();
            t.add_done_callback(move |_| {
                if let Some(w) = w.take() {
                    w.wake();
                }
            });
        }
        Cancelling { tasks, waker }
    }

    /// The timeout's error once every task is done: its source is the first
    /// task's outcome (its cancellation, with the message of a
    /// `cancel_with`).
    fn poll(&self, cx: &mut Context<'_>) -> Poll<Error> {
        if self.tasks.iter().all(TaskRef::done) {
            let cause = self.tasks.first().and_then(TaskRef::exception);
            return Poll::Ready(timed_out_from(cause.unwrap_or_else(Error::cancelled)));
        }
        self.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

/// `TimedOut` caused by the inner future's cancellation.
fn timed_out_from(cause: Error) -> Error {
    Error::TimedOut { source: Some(Arc::new(cause)) }
}

pin_project_lite::pin_project! {
    /// The future returned by [`timeout`], [`timeout_at`] and [`wait_for`].
    ///
    /// It polls the inner future first and the deadline second, so an inner
    /// future that is ready when the deadline passes wins. When the deadline
    /// passes first, the inner future is **dropped at once** (that is how a
    /// Rust future is cancelled) and the output is [`Error::TimedOut`],
    /// whose source is that cancellation. Tasks whose cancellation the drop
    /// requested (a [`cancel_on_drop`](crate::cancel_on_drop) task, the
    /// children of a [`gather`](crate::gather) …) are waited for first: as
    /// in asyncio, when `TimedOut` is seen they are done — cancelled, their
    /// futures dropped — and the source is the first one's cancellation.
    ///
    /// The deadline is a timer on the running loop's clock: on a
    /// [`TestLoop`](crate::test_util::TestLoop) a one-hour timeout takes no
    /// real time. A deadline that has already passed still lets the inner
    /// future run until it first waits: the timer fires on the loop's next
    /// iteration, as with asyncio's `timeout(0)`.
    ///
    /// # Cancel safety
    ///
    /// Dropping a `Timeout` drops the inner future and cancels the timer;
    /// nothing else happens. A [`Task`](crate::Task) passed as the inner
    /// future is only *detached* when dropped, so it keeps running after a
    /// timeout; wrap it in [`cancel_on_drop`](crate::cancel_on_drop) to get
    /// asyncio's `wait_for(task, t)`, which cancels the task on timeout.
    pub struct Timeout<F> {
        #[pin]
        inner: Option<F>,
        deadline: Deadline,
        timer: Option<Sleep>,
        state: State,
        // `wait_for` with a zero limit: cancel before the first poll.
        expire_at_once: bool,
        cancelling: Option<Cancelling>,
    }
}

/// Runs `fut` with a time limit of `duration` (asyncio's
/// `async with asyncio.timeout(delay)` around one await).
///
/// The limit starts when the returned future is first polled. A duration so
/// large that the deadline overflows the clock means "no limit".
///
/// # Errors
///
/// The future resolves to [`Error::TimedOut`] if `duration` passes before
/// `fut` completes (then `fut` has been dropped), and to
/// [`Error::NoRunningLoop`] if it must arm its timer outside a running loop.
///
/// # Cancel safety
///
/// See [`Timeout`]: dropping it drops `fut` and the timer.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use loop_core::{Error, Loop, sleep, timeout};
///
/// let lp = Loop::new()?;
/// let out = lp.run_until_complete(async {
///     timeout(Duration::from_millis(1), sleep(Duration::from_secs(60))).await
/// })?;
/// assert!(matches!(out, Err(Error::TimedOut { .. })));
/// lp.close()?;
/// # Ok::<(), loop_core::Error>(())
/// ```
pub fn timeout<F: Future>(duration: Duration, fut: F) -> Timeout<F> {
    Timeout::new(Deadline::After(duration), fut)
}

/// Runs `fut` until the loop's clock reaches `deadline` (asyncio's
/// `asyncio.timeout_at(when)`).
///
/// # Errors
///
/// The future resolves to [`Error::TimedOut`] if the deadline passes before
/// `fut` completes (then `fut` has been dropped), and to
/// [`Error::NoRunningLoop`] if it must arm its timer outside a running loop.
///
/// # Cancel safety
///
/// See [`Timeout`]: dropping it drops `fut` and the timer.
pub fn timeout_at<F: Future>(deadline: Instant, fut: F) -> Timeout<F> {
    Timeout::new(Deadline::At(deadline), fut)
}

/// asyncio's `wait_for(aw, timeout)`: [`timeout`] when `limit` is
/// `Some`, no limit at all when it is `None`.
///
/// Unlike asyncio, `wait_for` does not turn the inner future into a task: on
/// timeout the future is dropped, which is its cancellation. For a
/// [`Task`](crate::Task), use `wait_for(cancel_on_drop(task), limit)` to
/// cancel it on timeout as asyncio does (a plain task would be detached and
/// keep running); `TimedOut` then comes once the task is done cancelling.
///
/// A zero limit (asyncio: a timeout ≤ 0) cancels `fut` before it starts:
/// it is dropped without being polled and the output is
/// [`Error::TimedOut`] — unlike [`timeout`] with a zero duration
/// (asyncio's `timeout(0)`), which lets it run until its first wait. (asyncio
/// returns the result of a future that is already done instead; tulip
/// cannot tell that a future is done without polling it.)
///
/// # Errors
///
/// As [`timeout`]; with `None` the only output is `Ok(fut's output)`.
///
/// # Cancel safety
///
/// See [`Timeout`]: dropping it drops `fut` and the timer.
pub fn wait_for<F: Future>(fut: F, limit: Option<Duration>) -> Timeout<F> {
    let mut t = Timeout::new(limit.map_or(Deadline::Never, Deadline::After), fut);
    t.expire_at_once = limit == Some(Duration::ZERO);
    t
}

impl<F> Timeout<F> {
    fn new(deadline: Deadline, fut: F) -> Self {
        Timeout {
            inner: Some(fut),
            deadline,
            timer: None,
            state: State::Running,
            expire_at_once: false,
            cancelling: None,
        }
    }

    /// The deadline on the loop's clock: known from the start for
    /// [`timeout_at`], from the first poll for [`timeout`] and
    /// [`wait_for`]; `None` before that and when there is no limit.
    pub fn deadline(&self) -> Option<Instant> {
        match self.deadline {
            Deadline::At(t) => Some(t),
            Deadline::After(_) | Deadline::Never => None,
        }
    }

    /// Whether the deadline passed before the inner future completed.
    pub fn expired(&self) -> bool {
        matches!(self.state, State::TimedOut | State::Cancelling)
    }
}

impl<F: Future> Timeout<F> {
    /// The deadline passed: drops the inner future (its cancellation) and
    /// waits for the tasks that drop cancelled.
    fn expire(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<F::Output>> {
        let mut this = self.project();
        *this.timer = None;
        let mut inner = this.inner.as_mut();
        let cancelled = crate::task::cancelled_during(|| inner.set(None));
        if cancelled.is_empty() {
            *this.state = State::TimedOut;
            return Poll::Ready(Err(timed_out_from(Error::cancelled())));
        }
        *this.state = State::Cancelling;
        let cancelling = this.cancelling.insert(Cancelling::new(cancelled));
        match cancelling.poll(cx) {
            Poll::Ready(e) => {
                *this.state = State::TimedOut;
                *this.cancelling = None;
                Poll::Ready(Err(e))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.state == State::Running && self.expire_at_once {
            return self.expire(cx);
        }
        let mut this = self.as_mut().project();
        if *this.state == State::Cancelling {
            let Some(cancelling) = this.cancelling.as_ref() else {
                return Poll::Ready(Err(Error::timed_out()));
            };
            let e = std::task::ready!(cancelling.poll(cx));
            *this.state = State::TimedOut;
            *this.cancelling = None;
            return Poll::Ready(Err(e));
        }
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(match this.state {
                State::TimedOut => Error::timed_out(),
                _ => Error::InvalidState("Timeout polled after completion".into()),
            }));
        };
        if let Poll::Ready(out) = inner.poll(cx) {
            this.inner.set(None);
            *this.state = State::Completed;
            *this.timer = None;
            return Poll::Ready(Ok(out));
        }
        if this.timer.is_none() {
            let when = match *this.deadline {
                Deadline::Never => return Poll::Pending,
                Deadline::At(t) => t,
                Deadline::After(d) => {
                    let now = match crate::get_running_loop() {
                        Ok(lp) => lp.time(),
                        Err(e) => {
                            this.inner.set(None);
                            *this.state = State::Completed;
                            return Poll::Ready(Err(e));
                        }
                    };
                    match now.checked_add(d) {
                        Some(t) => {
                            *this.deadline = Deadline::At(t);
                            t
                        }
                        // Beyond the clock's range: the deadline never comes.
                        None => {
                            *this.deadline = Deadline::Never;
                            return Poll::Pending;
                        }
                    }
                }
            };
            *this.timer = Some(sleep_until(when));
        }
        let Some(timer) = this.timer.as_mut() else { return Poll::Pending };
        match Pin::new(timer).poll(cx) {
            Poll::Pending => Poll::Pending,
            // Dropping the inner future is its cancellation.
            Poll::Ready(Ok(())) => self.expire(cx),
            Poll::Ready(Err(e)) => {
                this.inner.set(None);
                *this.timer = None;
                *this.state = State::Completed;
                Poll::Ready(Err(e))
            }
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.deadline)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
