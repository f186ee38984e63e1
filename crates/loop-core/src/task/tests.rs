//! Unit tests of the task machinery on a loop over the
//! [`FakeDriver`], which touches no OS resource: they run unchanged under
//! Miri (`cargo xtask sanitize miri`), which checks the module's `unsafe`
//! code ([`raw`](super::raw): the id-carrying waker and the in-place
//! polling of a pinned future) along every path a task takes — creation,
//! wake-ups by reference, by value, from another thread and after the task
//! is gone, cancellation, panics, loop close and joining.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::{LocalBoxFuture, Task, TaskId, TaskRef};
use crate::Loop;
use crate::error::Error;
use crate::test_util::{FakeDriver, run_once};

/// A future's view of the test: how often it was polled, the waker of its
/// last poll, and whether it may complete.
#[derive(Default)]
struct Gate {
    open: Cell<bool>,
    polls: Cell<u32>,
    waker: RefCell<Option<Waker>>,
}

impl Gate {
    fn waker(&self) -> Waker {
        self.waker.borrow().clone().expect("the task was polled")
    }
}

/// Pending until its gate opens; completes with its poll count.
struct WaitGate(Rc<Gate>);

impl Future for WaitGate {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let g = &self.0;
        g.polls.set(g.polls.get() + 1);
        if g.open.get() {
            return Poll::Ready(g.polls.get());
        }
        *g.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn gated(lp: &Loop) -> (Rc<Gate>, Task<u32>) {
    let gate = Rc::new(Gate::default());
    let task = lp.create_task(WaitGate(gate.clone())).unwrap();
    (gate, task)
}

fn id_of<T>(task: &Task<T>) -> TaskId {
    task.as_task_ref().0.header().slot.get()
}

/// What a test sees of a [`Pinned`] future: its address at every poll and
/// at its drop (a pinned future must never move), and its drop count.
#[derive(Default)]
struct Watch {
    seen: RefCell<Vec<usize>>,
    drops: Cell<u32>,
}

impl Watch {
    fn never_moved(&self) -> bool {
        self.seen.borrow().windows(2).all(|w| w[0] == w[1])
    }
}

/// Wakes itself and stays pending for `pending_polls` polls, then
/// completes; `!Unpin`.
struct Pinned {
    watch: Rc<Watch>,
    pending_polls: Cell<u32>,
    panic_on_drop: bool,
    _pin: PhantomPinned,
}

impl Pinned {
    fn new(pending_polls: u32) -> (Self, Rc<Watch>) {
        let watch = Rc::new(Watch::default());
        let fut = Pinned {
            watch: watch.clone(),
            pending_polls: Cell::new(pending_polls),
            panic_on_drop: false,
            _pin: PhantomPinned,
        };
        (fut, watch)
    }
}

impl Future for Pinned {
    type Output = &'static str;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        let this: &Self = &self;
        this.watch.seen.borrow_mut().push(this as *const Self as usize);
        let left = this.pending_polls.get();
        if left == 0 {
            return Poll::Ready("done");
        }
        this.pending_polls.set(left - 1);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        self.watch.seen.borrow_mut().push(self as *const Self as usize);
        self.watch.drops.set(self.watch.drops.get() + 1);
        if self.panic_on_drop {
            panic!("drop of a pinned future");
        }
    }
}

#[test]
fn wakes_by_reference_and_by_value_queue_one_step_each_time() {
    let (lp, _driver) = FakeDriver::new_loop();
    let (gate, mut task) = gated(&lp);
    run_once(&lp).unwrap();
    assert_eq!(gate.polls.get(), 1);
    let w = gate.waker();
    // Clones carry the same id; two wake-ups before the step queue it once.
    assert!(w.will_wake(&w.clone()));
    w.wake_by_ref();
    w.clone().wake_by_ref();
    drop(w.clone());
    run_once(&lp).unwrap();
    assert_eq!(gate.polls.get(), 2);
    gate.waker().wake();
    run_once(&lp).unwrap();
    assert_eq!(gate.polls.get(), 3);
    gate.open.set(true);
    gate.waker().wake();
    run_once(&lp).unwrap();
    assert_eq!(task.try_take().unwrap(), 4);
    lp.close().unwrap();
}

#[test]
fn wakers_of_different_tasks_differ() {
    let (lp, _driver) = FakeDriver::new_loop();
    let (a, _ta) = gated(&lp);
    let (b, _tb) = gated(&lp);
    run_once(&lp).unwrap();
    assert!(!a.waker().will_wake(&b.waker()));
    lp.close().unwrap();
}

#[test]
fn a_waker_woken_on_another_thread_reaches_its_task() {
    let (lp, driver) = FakeDriver::new_loop();
    let (gate, mut task) = gated(&lp);
    run_once(&lp).unwrap();
    let w = gate.waker();
    std::thread::spawn(move || {
        w.wake_by_ref();
        w.wake();
    })
    .join()
    .unwrap();
    assert!(driver.notifications() >= 1, "the other thread notified the loop");
    run_once(&lp).unwrap();
    assert_eq!(gate.polls.get(), 2);
    gate.open.set(true);
    let w = gate.waker();
    std::thread::spawn(move || w.wake()).join().unwrap();
    run_once(&lp).unwrap();
    assert_eq!(task.try_take().unwrap(), 3);
    lp.close().unwrap();
}

#[test]
fn a_stale_waker_never_wakes_the_task_that_reuses_its_slot() {
    let (lp, _driver) = FakeDriver::new_loop();
    let (old, mut old_task) = gated(&lp);
    run_once(&lp).unwrap();
    let stale = old.waker();
    old.open.set(true);
    old.waker().wake();
    run_once(&lp).unwrap();
    assert_eq!(old_task.try_take().unwrap(), 2);
    let old_id = id_of(&old_task);

    let (new, _new_task) = gated(&lp);
    let new_id = id_of(&_new_task);
    assert_eq!(new_id.slot(), old_id.slot(), "the freed slot is reused");
    assert_ne!(new_id.generation(), old_id.generation());
    run_once(&lp).unwrap();
    assert_eq!(new.polls.get(), 1);

    // Woken here and from another thread, the old id names no live task.
    stale.wake_by_ref();
    let remote = stale.clone();
    std::thread::spawn(move || remote.wake()).join().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    lp.call_soon(move || r.set(true)).unwrap();
    run_once(&lp).unwrap();
    run_once(&lp).unwrap_err();
    assert!(ran.get());
    assert_eq!(new.polls.get(), 1, "a stale waker woke the slot's new task");
    drop(stale);
    lp.close().unwrap();
}

#[test]
fn a_pinned_future_is_polled_in_place_until_it_is_dropped() {
    let (lp, _driver) = FakeDriver::new_loop();
    let (fut, watch) = Pinned::new(3);
    let mut task = lp.create_task(fut).unwrap();
    for _ in 0..4 {
        run_once(&lp).unwrap();
    }
    assert_eq!(task.try_take().unwrap(), "done");
    assert_eq!(watch.drops.get(), 1, "dropped once, as soon as it completed");
    assert_eq!(watch.seen.borrow().len(), 5, "four polls and the drop");
    assert!(watch.never_moved(), "the future moved: {:?}", watch.seen.borrow());
    lp.close().unwrap();
}

#[test]
fn a_borrow_held_across_an_await_stays_valid() {
    let (lp, _driver) = FakeDriver::new_loop();
    let (gate, _gate_task) = gated(&lp);
    let g = gate.clone();
    let mut task = lp
        .create_task(async move {
            let data: Vec<u32> = (1..=10).collect();
            let first_half = &data[..5];
            WaitGate(g).await;
            first_half.iter().sum::<u32>() + data.len() as u32
        })
        .unwrap();
    run_once(&lp).unwrap();
    gate.open.set(true);
    gate.waker().wake();
    run_once(&lp).unwrap();
    assert_eq!(task.try_take().unwrap(), 25);
    lp.close().unwrap();
}

#[test]
fn cancelling_a_pending_task_drops_its_future_in_place_once() {
    let (lp, _driver) = FakeDriver::new_loop();
    let (fut, watch) = Pinned::new(u32::MAX);
    let mut task = lp.create_task(fut).unwrap();
    run_once(&lp).unwrap();
    assert!(task.cancel());
    assert!(task.cancel(), "a second request before the step still counts");
    run_once(&lp).unwrap();
    assert_eq!(watch.drops.get(), 1);
    assert!(task.cancelled());
    assert!(!task.cancel(), "a done task cannot be cancelled");
    assert!(matches!(task.try_take(), Err(Error::Cancelled { .. })));
    assert!(watch.never_moved());
    lp.close().unwrap();
}

#[test]
fn closing_the_loop_drops_every_pending_future_and_ends_the_tasks_cancelled() {
    let (lp, _driver) = FakeDriver::new_loop();
    let mut kept = Vec::new();
    let mut counters = Vec::new();
    for i in 0..6 {
        let (fut, watch) = Pinned::new(u32::MAX);
        counters.push(watch);
        let task = lp.create_task(fut).unwrap();
        // Half the handles are dropped: those tasks are detached.
        if i % 2 == 0 {
            kept.push(task);
        }
    }
    run_once(&lp).unwrap();
    assert_eq!(lp.all_tasks().len(), 6);
    lp.close().unwrap();
    assert!(counters.iter().all(|w| w.drops.get() == 1), "every future dropped once");
    for mut t in kept {
        assert!(t.done());
        assert!(matches!(t.try_take(), Err(Error::Cancelled { .. })));
    }
    assert_eq!(lp.common().tasks.len(), 0);
}

#[test]
fn a_panic_while_polling_ends_the_task_panicked() {
    let (lp, _driver) = FakeDriver::new_loop();
    let mut task = lp.create_task(async { panic!("in the task's poll") }).unwrap();
    run_once(&lp).unwrap();
    assert!(matches!(task.try_take(), Err(Error::Panicked(m)) if m.contains("in the task's poll")));
    lp.close().unwrap();
}

#[test]
fn a_panic_dropping_a_finished_future_leaves_its_output() {
    let (lp, _driver) = FakeDriver::new_loop();
    let (mut fut, watch) = Pinned::new(0);
    fut.panic_on_drop = true;
    let mut task = lp.create_task(fut).unwrap();
    run_once(&lp).unwrap();
    assert_eq!(watch.drops.get(), 1);
    assert_eq!(task.try_take().unwrap(), "done");
    lp.close().unwrap();
}

#[test]
fn a_panic_dropping_a_cancelled_future_is_the_task_s_outcome() {
    let (lp, _driver) = FakeDriver::new_loop();
    let (mut fut, watch) = Pinned::new(u32::MAX);
    fut.panic_on_drop = true;
    let mut task = lp.create_task(fut).unwrap();
    run_once(&lp).unwrap();
    task.cancel();
    run_once(&lp).unwrap();
    assert_eq!(watch.drops.get(), 1);
    assert!(matches!(task.try_take(), Err(Error::Panicked(m)) if m.contains("drop of a pinned")));
    lp.close().unwrap();
}

#[test]
fn a_task_awaiting_another_is_woken_by_its_end() {
    let (lp, _driver) = FakeDriver::new_loop();
    let (gate, inner) = gated(&lp);
    let mut outer = lp.create_task(async move { inner.await.map(|n| n * 10) }).unwrap();
    run_once(&lp).unwrap();
    // A spurious wake-up of the awaiter polls the join again with the
    // same waker.
    outer.as_task_ref().0.header().slot.get().waker().wake();
    run_once(&lp).unwrap();
    assert!(!outer.done());
    gate.open.set(true);
    gate.waker().wake();
    run_once(&lp).unwrap();
    run_once(&lp).unwrap();
    assert_eq!(outer.try_take().unwrap().unwrap(), 20);
    lp.close().unwrap();
}

#[test]
fn the_output_is_taken_once_and_a_detached_output_is_dropped() {
    let (lp, _driver) = FakeDriver::new_loop();
    let mut task = lp.create_task(async { String::from("out") }).unwrap();
    let token = Rc::new(());
    let t = token.clone();
    drop(lp.create_task(async move { t }).unwrap());
    run_once(&lp).unwrap();
    assert_eq!(task.try_take().unwrap(), "out");
    assert!(matches!(task.try_take(), Err(Error::InvalidState(_))));
    assert_eq!(Rc::strong_count(&token), 1, "the detached task's output was dropped");
    lp.close().unwrap();
}

#[test]
fn freed_slots_are_reused_with_a_new_generation() {
    let (lp, _driver) = FakeDriver::new_loop();
    let first: Vec<Task<()>> = (0..50).map(|_| lp.create_task(async {}).unwrap()).collect();
    run_once(&lp).unwrap();
    assert_eq!(lp.common().tasks.len(), 0);
    let second: Vec<Task<()>> = (0..50).map(|_| lp.create_task(async {}).unwrap()).collect();
    let slots = |ts: &[Task<()>]| {
        let mut s: Vec<usize> = ts.iter().map(|t| id_of(t).slot()).collect();
        s.sort_unstable();
        s
    };
    assert_eq!(slots(&first), slots(&second), "no slot beyond the first 50");
    assert!(second.iter().all(|t| id_of(t).generation() == 1));
    run_once(&lp).unwrap();
    assert!(second.iter().all(Task::done));
    lp.close().unwrap();
}

#[test]
fn a_task_factory_wraps_the_body_and_the_output_comes_through() {
    let (lp, _driver) = FakeDriver::new_loop();
    let wrapped = Rc::new(Cell::new(0));
    let w = wrapped.clone();
    lp.set_task_factory(Some(Rc::new(move |_lp: &Loop, t: &TaskRef, body: LocalBoxFuture<()>| {
        t.set_name("factory-made");
        let w = w.clone();
        let wrapped: LocalBoxFuture<()> = Box::pin(async move {
            w.set(w.get() + 1);
            body.await;
        });
        wrapped
    })));
    let (gate, mut task) = gated(&lp);
    assert_eq!(task.name(), "factory-made");
    run_once(&lp).unwrap();
    gate.open.set(true);
    gate.waker().wake();
    run_once(&lp).unwrap();
    assert_eq!(task.try_take().unwrap(), 2);
    assert_eq!(wrapped.get(), 1);
    lp.close().unwrap();
}
