//! The group's shutdown signal: a one-way, thread-safe flag whose future
//! any loop of the group can await.
//!
//! Requesting shutdown sets the flag and wakes every waiting future. The
//! wakers are the loops' own task wakers, so a wake-up from another thread
//! goes through the loop's cross-thread queue and interrupts its poll.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// The state a group's handles, contexts and futures share.
#[derive(Default)]
struct Signal {
    requested: AtomicBool,
    waiters: Mutex<Waiters>,
}

/// The wakers of the futures waiting for shutdown, by registration key.
#[derive(Default)]
struct Waiters {
    next_key: u64,
    wakers: Vec<(u64, Waker)>,
}

impl Signal {
    /// The waiters, even if a thread panicked while holding the lock (the
    /// list stays consistent: every critical section is a single push,
    /// retain or take).
    fn waiters(&self) -> MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Requests the shutdown of a [`LoopGroup`](super::LoopGroup) from anywhere:
/// another thread, a signal handler's callback on one of the loops, a loop
/// of the group itself.
///
/// `Clone + Send + Sync`; get one from
/// [`LoopGroup::shutdown_handle`](super::LoopGroup::shutdown_handle) or
/// [`LoopContext::shutdown_handle`](super::LoopContext::shutdown_handle).
/// Requesting shutdown only signals: each loop's main sees
/// [`LoopContext::shutdown`](super::LoopContext::shutdown) resolve and is
/// expected to wind down; [`LoopGroup::join`](super::LoopGroup::join) waits
/// for them.
#[derive(Clone, Default)]
pub struct ShutdownHandle {
    signal: Arc<Signal>,
}

impl ShutdownHandle {
    /// Requests shutdown. Returns `true` for the call that requested it
    /// first, `false` when shutdown had been requested already (the call is
    /// then a no-op).
    pub fn shutdown(&self) -> bool {
        if self.signal.requested.swap(true, Ordering::SeqCst) {
            return false;
        }
        // Taken under the lock, woken outside it: a waker may run code.
        let wakers = std::mem::take(&mut self.signal.waiters().wakers);
        for (_, w) in wakers {
            w.wake();
        }
        true
    }

    /// Whether shutdown was requested.
    pub fn is_shutdown_requested(&self) -> bool {
        self.signal.requested.load(Ordering::SeqCst)
    }

    /// A future that resolves once shutdown is requested.
    pub(crate) fn wait(&self) -> ShutdownRequested {
        ShutdownRequested { signal: self.signal.clone(), key: None }
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle").field("requested", &self.is_shutdown_requested()).finish()
    }
}

/// Resolves once the group's shutdown is requested (the future of
/// [`LoopContext::shutdown`](super::LoopContext::shutdown)).
///
/// # Cancel safety
///
/// Cancel-safe: dropping it unregisters its waker and loses nothing; a new
/// one resolves at once if shutdown was requested meanwhile.
#[must_use = "futures do nothing unless awaited"]
pub struct ShutdownRequested {
    signal: Arc<Signal>,
    /// Our entry in the waiter list, once registered.
    key: Option<u64>,
}

impl Future for ShutdownRequested {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.requested.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        let signal = self.signal.clone();
        let mut waiters = signal.waiters();
        // Checked again under the lock: `shutdown` sets the flag before it
        // takes the list, so either we see the flag here or it sees our
        // waker.
        if signal.requested.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        match self.key {
            Some(key) => {
                if let Some(entry) = waiters.wakers.iter_mut().find(|(k, _)| *k == key) {
                    if !entry.1.will_wake(cx.waker()) {
                        entry.1 = cx.waker().clone();
                    }
                } else {
                    waiters.wakers.push((key, cx.waker().clone()));
                }
            }
            None => {
                let key = waiters.next_key;
                waiters.next_key += 1;
                waiters.wakers.push((key, cx.waker().clone()));
                self.key = Some(key);
            }
        }
        Poll::Pending
    }
}

impl Drop for ShutdownRequested {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.signal.waiters().wakers.retain(|(k, _)| *k != key);
        }
    }
}

impl fmt::Debug for ShutdownRequested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownRequested")
            .field("requested", &self.signal.requested.load(Ordering::SeqCst))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll(fut: &mut ShutdownRequested, waker: &Waker) -> Poll<()> {
        Pin::new(fut).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn shutdown_wakes_each_registered_waiter_once_and_only_the_first_call_counts() {
        let handle = ShutdownHandle::default();
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut a = handle.wait();
        let mut b = handle.wait();
        assert!(poll(&mut a, &waker).is_pending());
        assert!(poll(&mut a, &waker).is_pending(), "a re-poll must not register twice");
        assert!(poll(&mut b, &waker).is_pending());
        assert!(!handle.is_shutdown_requested());
        assert!(handle.shutdown());
        assert!(!handle.shutdown(), "a second request is a no-op");
        assert_eq!(counter.0.load(Ordering::SeqCst), 2, "one wake per waiting future");
        assert!(poll(&mut a, &waker).is_ready());
        assert!(poll(&mut handle.wait(), &waker).is_ready(), "a late waiter resolves at once");
    }

    #[test]
    fn a_dropped_waiter_is_unregistered_and_never_woken() {
        let handle = ShutdownHandle::default();
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut a = handle.wait();
        assert!(poll(&mut a, &waker).is_pending());
        drop(a);
        assert!(handle.signal.waiters().wakers.is_empty());
        handle.shutdown();
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    }
}
