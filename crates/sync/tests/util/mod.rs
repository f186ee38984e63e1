//! Helpers shared by the integration tests: wake probes and executor steps.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use async_executor::LocalExecutor;

struct Hits(AtomicUsize);

impl Wake for Hits {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that counts its wake-ups, to poll futures by hand.
pub(crate) struct Probe {
    hits: Arc<Hits>,
    waker: Waker,
}

impl Probe {
    pub(crate) fn new() -> Self {
        let hits = Arc::new(Hits(AtomicUsize::new(0)));
        Self { waker: Waker::from(hits.clone()), hits }
    }

    /// How many times the waker was woken.
    pub(crate) fn woken(&self) -> usize {
        self.hits.0.load(Ordering::SeqCst)
    }

    /// Polls `fut` once with this probe's waker.
    pub(crate) fn poll<F: Future + Unpin>(&self, fut: &mut F) -> Poll<F::Output> {
        Pin::new(fut).poll(&mut Context::from_waker(&self.waker))
    }
}

/// A future and the probe it is polled with.
pub(crate) struct Polled<F> {
    pub(crate) fut: F,
    pub(crate) probe: Probe,
}

impl<F: Future + Unpin> Polled<F> {
    /// Wraps `fut` and polls it once, expecting it to be pending.
    pub(crate) fn pending(fut: F) -> Self {
        let mut p = Self { fut, probe: Probe::new() };
        assert!(p.poll().is_pending(), "expected the first poll to be pending");
        p
    }

    pub(crate) fn poll(&mut self) -> Poll<F::Output> {
        self.probe.poll(&mut self.fut)
    }

    pub(crate) fn woken(&self) -> bool {
        self.probe.woken() > 0
    }

    /// Polls and expects completion.
    #[track_caller]
    pub(crate) fn ready(mut self) -> F::Output {
        match self.poll() {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("expected the future to be ready"),
        }
    }
}

/// Runs every task of `ex` that can run, until all are blocked.
pub(crate) fn run_until_stalled(ex: &LocalExecutor<'_>) {
    while ex.try_tick() {}
}

/// `block_on(ex.run(fut))`: drives `fut` and the executor's tasks.
pub(crate) fn block_on<T>(ex: &LocalExecutor<'_>, fut: impl Future<Output = T>) -> T {
    futures_lite::future::block_on(ex.run(fut))
}
