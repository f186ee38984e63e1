//! CORE-01: the `EventLoop` trait admits a second implementation. This one
//! is a test double — a plain ready queue, virtual time, no selector — and
//! `Loop`, callbacks, timers, tasks, `LoopFuture`s and the exception handler
//! all work on it, the way upper crates would use them against a fake loop.

mod core_util;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loop_core::{
    Error, EventLoop, ExceptionContext, Handle, Loop, LoopCommon, RemoteItem, RemoteLoop,
    RemoteQueue, Runnable, TaskId, TimerHandle, current_task, get_running_loop,
};

/// A task step: one of the loop's own tasks, or a task spawned from another
/// thread.
enum Step {
    Task(TaskId),
    Runnable(Runnable),
}

/// Ready work: callbacks and task steps in two queues. A shared sequence
/// number keeps the two in one FIFO order.
struct FakeLoop {
    common: LoopCommon,
    seq: Cell<u64>,
    callbacks: RefCell<VecDeque<(u64, Handle)>>,
    steps: RefCell<VecDeque<(u64, Step)>>,
    timers: RefCell<Vec<(Instant, u64, Handle)>>,
    remote: RemoteQueue,
    now: Cell<Instant>,
    running: Cell<bool>,
    stopping: Cell<bool>,
    closed: Cell<bool>,
    /// Every scheduling call, for the test to check the upper layer used the
    /// trait.
    calls: RefCell<Vec<&'static str>>,
}

impl FakeLoop {
    fn new() -> Rc<FakeLoop> {
        Rc::new(FakeLoop {
            common: LoopCommon::new(),
            seq: Cell::new(0),
            callbacks: RefCell::default(),
            steps: RefCell::default(),
            timers: RefCell::default(),
            // Nothing blocks, so nothing needs waking.
            remote: RemoteQueue::new(|| {}),
            now: Cell::new(Instant::now()),
            running: Cell::new(false),
            stopping: Cell::new(false),
            closed: Cell::new(false),
            calls: RefCell::default(),
        })
    }

    fn check_open(&self) -> loop_core::Result<()> {
        if self.closed.get() { Err(Error::LoopClosed) } else { Ok(()) }
    }

    fn next_seq(&self) -> u64 {
        self.seq.replace(self.seq.get() + 1)
    }

    fn ready_len(&self) -> usize {
        self.callbacks.borrow().len() + self.steps.borrow().len()
    }

    /// Pops the oldest ready item of either kind.
    fn pop(&self) -> Option<Result<Handle, Step>> {
        let cb_seq = self.callbacks.borrow().front().map(|(n, _)| *n);
        let s_seq = self.steps.borrow().front().map(|(n, _)| *n);
        match (cb_seq, s_seq) {
            (Some(c), Some(s)) if s < c => self.steps.borrow_mut().pop_front().map(|(_, s)| Err(s)),
            (Some(_), _) => self.callbacks.borrow_mut().pop_front().map(|(_, h)| Ok(h)),
            (None, Some(_)) => self.steps.borrow_mut().pop_front().map(|(_, s)| Err(s)),
            (None, None) => None,
        }
    }

    /// One iteration: remote items, due timers (jumping to the earliest one
    /// when idle), then exactly the batch that was ready.
    fn run_once(&self) -> loop_core::Result<()> {
        while let Some(item) = self.remote.pop() {
            match item {
                RemoteItem::Call(f) => {
                    let n = self.next_seq();
                    self.callbacks.borrow_mut().push_back((n, Handle::new(f)));
                }
                RemoteItem::Task(r) => {
                    let n = self.next_seq();
                    self.steps.borrow_mut().push_back((n, Step::Runnable(r)));
                }
                RemoteItem::WakeTask(id) => self.common.wake_task(self, id),
                RemoteItem::Stop => self.stopping.set(true),
                _ => {}
            }
        }
        if self.ready_len() == 0 && !self.stopping.get() {
            let earliest = self.timers.borrow().iter().map(|(w, _, _)| *w).min();
            match earliest {
                Some(w) if w > self.now.get() => self.now.set(w),
                Some(_) => {}
                None => {
                    return Err(Error::InvalidState(
                        "fake loop: nothing to do, would block".into(),
                    ));
                }
            }
        }
        let now = self.now.get();
        let mut due: Vec<_> = {
            let mut timers = self.timers.borrow_mut();
            let (due, later) = timers.drain(..).partition(|(w, _, _)| *w <= now);
            *timers = later;
            due
        };
        due.sort_by_key(|(w, s, _)| (*w, *s));
        for (_, _, h) in due {
            let n = self.next_seq();
            self.callbacks.borrow_mut().push_back((n, h));
        }
        for _ in 0..self.ready_len() {
            let outcome = match self.pop() {
                Some(Ok(h)) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.run()))
                    .map_err(|_| Some(h)),
                Some(Err(step)) => {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match step {
                        Step::Task(id) => self.common.run_task(id),
                        Step::Runnable(r) => {
                            r.run();
                        }
                    }))
                    .map_err(|_| None)
                }
                None => break,
            };
            if let Err(handle) = outcome {
                let mut ctx = ExceptionContext::new("Exception in callback (fake loop)");
                if let Some(h) = handle {
                    ctx = ctx.with_handle(h);
                }
                self.common.call_exception_handler(ctx);
            }
        }
        Ok(())
    }
}

impl EventLoop for FakeLoop {
    fn time(&self) -> Instant {
        self.now.get()
    }
    fn call_soon(&self, handle: Handle) -> loop_core::Result<()> {
        self.check_open()?;
        self.calls.borrow_mut().push("call_soon");
        let n = self.next_seq();
        self.callbacks.borrow_mut().push_back((n, handle));
        Ok(())
    }
    fn call_at(&self, when: Instant, handle: Handle) -> loop_core::Result<TimerHandle> {
        self.check_open()?;
        self.calls.borrow_mut().push("call_at");
        let n = self.next_seq();
        self.timers.borrow_mut().push((when, n, handle.clone()));
        Ok(TimerHandle::new(handle, when))
    }
    fn call_before_poll(&self, handle: Handle) -> loop_core::Result<()> {
        self.call_soon(handle)
    }
    fn schedule_task(&self, task: TaskId) {
        self.calls.borrow_mut().push("schedule_task");
        let n = self.next_seq();
        self.steps.borrow_mut().push_back((n, Step::Task(task)));
    }
    fn remote(&self) -> RemoteLoop {
        self.remote.remote()
    }
    fn add_reader(&self, fd: RawFd, _: Handle) -> loop_core::Result<()> {
        self.check_open()?;
        Err(Error::InvalidFd {
            fd,
            source: Arc::new(std::io::Error::other("the fake loop watches no fds")),
        })
    }
    fn remove_reader(&self, _: RawFd) -> loop_core::Result<bool> {
        self.check_open()?;
        Ok(false)
    }
    fn add_writer(&self, fd: RawFd, handle: Handle) -> loop_core::Result<()> {
        self.add_reader(fd, handle)
    }
    fn remove_writer(&self, fd: RawFd) -> loop_core::Result<bool> {
        self.remove_reader(fd)
    }
    fn run_forever(&self) -> loop_core::Result<()> {
        self.check_open()?;
        if self.running.replace(true) {
            return Err(Error::LoopRunning);
        }
        let result = loop {
            if let Err(e) = self.run_once() {
                break Err(e);
            }
            if self.stopping.get() {
                break Ok(());
            }
        };
        self.stopping.set(false);
        self.running.set(false);
        result
    }
    fn stop(&self) {
        self.stopping.set(true);
    }
    fn is_running(&self) -> bool {
        self.running.get()
    }
    fn is_closed(&self) -> bool {
        self.closed.get()
    }
    fn close(&self) -> loop_core::Result<()> {
        if self.running.get() {
            return Err(Error::LoopRunning);
        }
        if !self.closed.replace(true) {
            self.remote.close();
            self.common.release_tasks();
            self.callbacks.borrow_mut().clear();
            let steps = std::mem::take(&mut *self.steps.borrow_mut());
            drop(steps);
            self.timers.borrow_mut().clear();
            self.common.shutdown_executor_nowait();
        }
        Ok(())
    }
    fn common(&self) -> &LoopCommon {
        &self.common
    }
}

fn fake() -> (Rc<FakeLoop>, Loop) {
    let f = FakeLoop::new();
    let lp = Loop::from_rc(f.clone());
    (f, lp)
}

#[test]
fn callbacks_run_fifo_through_the_trait() {
    let (fake, lp) = fake();
    let log = Rc::new(RefCell::new(Vec::new()));
    for i in 0..5 {
        let l = log.clone();
        lp.call_soon(move || l.borrow_mut().push(i)).unwrap();
    }
    let lp2 = lp.clone();
    lp.call_soon(move || lp2.stop()).unwrap();
    lp.run_forever().unwrap();
    assert_eq!(*log.borrow(), vec![0, 1, 2, 3, 4]);
    assert_eq!(fake.calls.borrow().iter().filter(|c| **c == "call_soon").count(), 6);
    lp.close().unwrap();
    assert!(matches!(lp.call_soon(|| {}), Err(Error::LoopClosed)));
}

#[test]
fn tasks_and_futures_run_on_the_fake_loop() {
    let (fake, lp) = fake();
    let lp2 = lp.clone();
    let out = lp
        .run_until_complete(async move {
            // The running loop is the fake one.
            assert!(get_running_loop().unwrap().ptr_eq(&lp2));
            assert!(current_task().is_some());
            let fut = lp2.create_future::<u32>();
            let f = fut.clone();
            lp2.call_soon(move || f.set_result(20).unwrap()).unwrap();
            let child = lp2.create_named_task("child", async move { fut.await.unwrap() + 1 });
            let child = child.unwrap();
            assert_eq!(child.name(), "child");
            assert_eq!(lp2.all_tasks().len(), 2);
            child.await.unwrap() * 2
        })
        .unwrap();
    assert_eq!(out, 42);
    assert!(lp.all_tasks().is_empty());
    assert!(fake.calls.borrow().contains(&"schedule_task"));
    lp.close().unwrap();
}

#[test]
fn tasks_and_callbacks_interleave_fifo_on_the_fake_loop() {
    let (_fake, lp) = fake();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    lp.call_soon(move || l.borrow_mut().push("cb1")).unwrap();
    let l = log.clone();
    let _t = lp.create_task(async move { l.borrow_mut().push("task") }).unwrap();
    let l = log.clone();
    lp.call_soon(move || l.borrow_mut().push("cb2")).unwrap();
    let lp2 = lp.clone();
    lp.call_soon(move || lp2.stop()).unwrap();
    lp.run_forever().unwrap();
    assert_eq!(*log.borrow(), vec!["cb1", "task", "cb2"]);
    lp.close().unwrap();
}

#[test]
fn timers_and_sleep_use_the_fake_clock() {
    let (fake, lp) = fake();
    let start = lp.time();
    let lp2 = lp.clone();
    let elapsed = lp
        .run_until_complete(async move {
            loop_core::sleep(Duration::from_secs(3600)).await.unwrap();
            lp2.time() - start
        })
        .unwrap();
    assert_eq!(elapsed, Duration::from_secs(3600));
    assert!(fake.calls.borrow().contains(&"call_at"));
    lp.close().unwrap();
}

#[test]
fn cancellation_and_done_callbacks_work_on_the_fake_loop() {
    let (_fake, lp) = fake();
    let never = lp.create_future::<()>();
    let n = never.clone();
    let victim = lp.create_task(async move { n.await.unwrap() }).unwrap();
    let cancelled_seen = Rc::new(Cell::new(false));
    let c = cancelled_seen.clone();
    victim.add_done_callback(move |t| c.set(t.cancelled()));
    let lp2 = lp.clone();
    let r = lp
        .run_until_complete(async move {
            loop_core::sleep(Duration::from_secs(1)).await.unwrap();
            victim.cancel();
            let r = victim.await;
            // Let the done callback run.
            loop_core::sleep(Duration::ZERO).await.unwrap();
            let _ = lp2;
            r
        })
        .unwrap();
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    assert!(cancelled_seen.get());
    lp.close().unwrap();
}

#[test]
fn panics_reach_the_exception_handler_on_the_fake_loop() {
    let (_fake, lp) = fake();
    let reports = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    lp.set_exception_handler(Some(Rc::new(move |_, ctx| r.borrow_mut().push(ctx.message.clone()))));
    lp.call_soon(|| panic!("fake boom")).unwrap();
    // A panicking task, detached: reported when it fails.
    drop(lp.create_task(async { panic!("fake task boom") }).unwrap());
    let lp2 = lp.clone();
    lp.call_soon(move || {
        let l3 = lp2.clone();
        lp2.call_soon(move || l3.stop()).unwrap();
    })
    .unwrap();
    lp.run_forever().unwrap();
    let reports = reports.borrow();
    assert!(reports.iter().any(|m| m.contains("fake loop")), "{reports:?}");
    assert!(reports.iter().any(|m| m.contains("never retrieved")), "{reports:?}");
    lp.close().unwrap();
}

#[test]
fn remote_calls_and_spawns_reach_the_fake_loop() {
    let (_fake, lp) = fake();
    let remote = lp.remote();
    let t = std::thread::spawn(move || {
        let (tx, rx) = std::sync::mpsc::channel();
        remote.call_soon_threadsafe(move || tx.send(1).unwrap()).unwrap();
        let task = remote.spawn(async { 2 }).unwrap();
        (rx, task)
    });
    let (rx, task) = t.join().unwrap();
    let got = lp.run_until_complete(task).unwrap().unwrap();
    assert_eq!(got, 2);
    assert_eq!(rx.try_recv().unwrap(), 1);
    lp.close().unwrap();
}

#[test]
fn the_fake_loop_reports_fd_watching_as_unsupported() {
    let (_fake, lp) = fake();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    assert!(matches!(lp.add_reader(&a, || {}), Err(Error::InvalidFd { .. })));
    assert!(!lp.remove_reader(&a).unwrap());
    lp.close().unwrap();
}
