//! Executors for blocking work (`run_in_executor`) and the default pool.
//!
//! The default executor is a bounded thread pool owned by its loop: no
//! thread starts until the first job, and at most `max_workers` threads ever
//! run. Results come back through the awaiting task's waker, so blocking work
//! never blocks the loop.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};

/// How long [`Loop::shutdown_default_executor`](crate::Loop::shutdown_default_executor)
/// waits for the default executor's threads to join (asyncio's
/// `THREAD_JOIN_TIMEOUT`, which `asyncio.run` passes): 300 seconds.
pub const THREAD_JOIN_TIMEOUT: Duration = Duration::from_secs(300);

/// A unit of blocking work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Something that runs blocking jobs off the loop thread (asyncio's
/// `concurrent.futures.Executor`).
pub trait Executor: Send + Sync + fmt::Debug {
    /// Queues `job` to run on some other thread.
    ///
    /// # Errors
    ///
    /// [`Error::ExecutorShutdown`] after [`shutdown`](Executor::shutdown).
    fn execute(&self, job: Job) -> Result<()>;

    /// Stops accepting jobs. Jobs already queued still run. With `wait`,
    /// blocks until every worker has finished.
    fn shutdown(&self, wait: bool);
}

struct PoolState {
    queue: VecDeque<Job>,
    idle: usize,
    workers: Vec<JoinHandle<()>>,
    shutdown: bool,
}

struct PoolShared {
    state: Mutex<PoolState>,
    available: Condvar,
}

impl PoolShared {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // Jobs run outside the lock, so a poisoned lock only means a worker
        // panicked between two field updates that are each valid alone.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A bounded pool of worker threads started on demand.
pub struct ThreadPoolExecutor {
    shared: Arc<PoolShared>,
    max_workers: usize,
    name: String,
}

impl ThreadPoolExecutor {
    /// A pool of at most `max_workers` threads (at least one).
    pub fn new(max_workers: usize) -> Self {
        ThreadPoolExecutor {
            shared: Arc::new(PoolShared {
                state: Mutex::new(PoolState {
                    queue: VecDeque::new(),
                    idle: 0,
                    workers: Vec::new(),
                    shutdown: false,
                }),
                available: Condvar::new(),
            }),
            max_workers: max_workers.max(1),
            name: "tulip-executor".into(),
        }
    }

    /// asyncio's default size: `min(32, cpus + 4)`.
    pub fn with_default_size() -> Self {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Self::new((cpus + 4).min(32))
    }

    /// The most threads this pool will run.
    pub fn max_workers(&self) -> usize {
        self.max_workers
    }

    /// Threads started so far.
    pub fn worker_count(&self) -> usize {
        self.shared.lock().workers.len()
    }

    fn worker(shared: Arc<PoolShared>) {
        let mut state = shared.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                // A panicking job must not take the worker down; the job's
                // own result channel reports the panic to its awaiter.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                state = shared.lock();
                continue;
            }
            if state.shutdown {
                return;
            }
            state.idle += 1;
            state = shared.available.wait(state).unwrap_or_else(|e| e.into_inner());
            state.idle -= 1;
        }
    }
}

impl Executor for ThreadPoolExecutor {
    fn execute(&self, job: Job) -> Result<()> {
        let mut state = self.shared.lock();
        if state.shutdown {
            return Err(Error::ExecutorShutdown);
        }
        state.queue.push_back(job);
        if state.idle >= state.queue.len() || state.workers.len() >= self.max_workers {
            self.shared.available.notify_one();
            return Ok(());
        }
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{}-{}", self.name, state.workers.len()))
            .spawn(move || Self::worker(shared));
        match spawned {
            Ok(handle) => state.workers.push(handle),
            Err(e) if state.workers.is_empty() => {
                state.queue.pop_back();
                return Err(e.into());
            }
            // Other workers exist and will get to the job.
            Err(_) => self.shared.available.notify_one(),
        }
        Ok(())
    }

    fn shutdown(&self, wait: bool) {
        let workers = {
            let mut state = self.shared.lock();
            state.shutdown = true;
            self.shared.available.notify_all();
            if wait { std::mem::take(&mut state.workers) } else { Vec::new() }
        };
        for w in workers {
            let _ = w.join();
        }
    }
}

impl fmt::Debug for ThreadPoolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolExecutor")
            .field("max_workers", &self.max_workers)
            .field("workers", &self.worker_count())
            .finish()
    }
}

impl Drop for ThreadPoolExecutor {
    fn drop(&mut self) {
        // Workers exit once the queue drains; do not block the dropping
        // thread (which may be the loop's).
        self.shutdown(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn runs_jobs_and_bounds_workers() {
        let pool = ThreadPoolExecutor::new(2);
        assert_eq!(pool.worker_count(), 0, "lazy");
        let (tx, rx) = mpsc::channel();
        for i in 0..10 {
            let tx = tx.clone();
            pool.execute(Box::new(move || tx.send(i).unwrap())).unwrap();
        }
        let mut got: Vec<i32> =
            (0..10).map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap()).collect();
        got.sort();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert!(pool.worker_count() <= 2);
        pool.shutdown(true);
        assert!(matches!(pool.execute(Box::new(|| {})), Err(Error::ExecutorShutdown)));
    }

    #[test]
    fn panicking_job_keeps_worker() {
        let pool = ThreadPoolExecutor::new(1);
        pool.execute(Box::new(|| panic!("boom"))).unwrap();
        let (tx, rx) = mpsc::channel();
        pool.execute(Box::new(move || tx.send(1).unwrap())).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
        pool.shutdown(true);
    }
}
