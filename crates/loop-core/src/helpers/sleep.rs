//! `sleep`: a future that completes after a delay, on the loop's clock.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::handle::TimerHandle;

#[derive(Default)]
struct Shared {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

enum Target {
    After(Duration),
    At(Instant),
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// # Cancel safety
///
/// Dropping it cancels its timer; nothing else happens.
pub struct Sleep {
    target: Target,
    timer: Option<TimerHandle>,
    shared: Rc<Shared>,
}

/// Completes after `delay` on the running loop's clock (asyncio's `sleep`).
/// The delay starts at the first poll. A zero delay still yields to the
/// loop once.
///
/// Resolves to [`Error::NoRunningLoop`] when polled outside a running loop,
/// or to an [`Error::InvalidArgument`] when the deadline overflows the clock.
pub fn sleep(delay: Duration) -> Sleep {
    Sleep { target: Target::After(delay), timer: None, shared: Rc::default() }
}

/// Completes once the running loop's clock reaches `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { target: Target::At(deadline), timer: None, shared: Rc::default() }
}

impl Future for Sleep {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.shared.fired.get() {
            return Poll::Ready(Ok(()));
        }
        *self.shared.waker.borrow_mut() = Some(cx.waker().clone());
        if self.timer.is_none() {
            let lp = crate::get_running_loop()?;
            let when = match self.target {
                Target::At(t) => t,
                Target::After(d) => lp.time().checked_add(d).ok_or_else(|| {
                    Error::InvalidArgument(format!("sleep of {d:?} overflows the loop's clock"))
                })?,
            };
            let shared = self.shared.clone();
            let timer = lp.call_at(when, move || {
                shared.fired.set(true);
                if let Some(w) = shared.waker.borrow_mut().take() {
                    w.wake();
                }
            })?;
            self.timer = Some(timer);
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(t) = &self.timer {
            t.cancel();
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep").field("fired", &self.shared.fired.get()).finish()
    }
}
