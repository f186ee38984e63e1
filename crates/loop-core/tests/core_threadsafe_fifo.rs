//! CORE-03/CORE-04: `call_soon_threadsafe` and `call_soon` are one FIFO
//! queue, as in asyncio: a threadsafe call made before a `call_soon` —
//! from the loop's own thread, or from another thread that provably
//! finished before — runs first.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use loop_core::Loop;

type Log = Rc<RefCell<Vec<&'static str>>>;

fn push(log: &Log, what: &'static str) -> impl FnOnce() + 'static {
    let log = log.clone();
    move || log.borrow_mut().push(what)
}

/// Runs one batch (stop before run: poll once, run what is ready, return).
fn run_one_batch(lp: &Loop) {
    lp.stop();
    lp.run_forever().unwrap();
}

#[test]
fn threadsafe_then_call_soon_from_the_loop_thread_run_in_that_order() {
    let lp = Loop::new().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (o1, o2, o3, o4) = (order.clone(), order.clone(), order.clone(), order.clone());
    lp.call_soon_threadsafe(move || o1.lock().unwrap().push("a")).unwrap();
    lp.call_soon(move || o2.lock().unwrap().push("b")).unwrap();
    lp.remote().call_soon_threadsafe(move || o3.lock().unwrap().push("c")).unwrap();
    lp.call_soon(move || o4.lock().unwrap().push("d")).unwrap();
    run_one_batch(&lp);
    assert_eq!(*order.lock().unwrap(), ["a", "b", "c", "d"]);
    lp.close().unwrap();
}

#[test]
fn threadsafe_from_a_finished_thread_runs_before_a_later_call_soon() {
    let lp = Loop::new().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let remote = lp.remote();
    let o1 = order.clone();
    // The thread has finished (joined) before call_soon is called.
    std::thread::spawn(move || remote.call_soon_threadsafe(move || o1.lock().unwrap().push("a")))
        .join()
        .unwrap()
        .unwrap();
    let o2 = order.clone();
    lp.call_soon(move || o2.lock().unwrap().push("b")).unwrap();
    run_one_batch(&lp);
    assert_eq!(*order.lock().unwrap(), ["a", "b"]);
    lp.close().unwrap();
}

#[test]
fn inside_a_callback_threadsafe_then_call_soon_keep_their_order() {
    let lp = Loop::new().unwrap();
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    let order = Arc::new(Mutex::new(Vec::new()));
    let (l2, log2, o2) = (lp.clone(), log.clone(), order.clone());
    lp.call_soon(move || {
        let o = o2.clone();
        l2.call_soon_threadsafe(move || o.lock().unwrap().push("a")).unwrap();
        let (log3, o3) = (log2.clone(), o2.clone());
        l2.call_soon(move || {
            o3.lock().unwrap().push("b");
            log3.borrow_mut().push("b ran");
        })
        .unwrap();
    })
    .unwrap();
    run_one_batch(&lp);
    assert!(order.lock().unwrap().is_empty(), "both run in the next batch, not this one");
    run_one_batch(&lp);
    assert_eq!(*order.lock().unwrap(), ["a", "b"]);
    assert_eq!(*log.borrow(), ["b ran"]);
    lp.close().unwrap();
}

#[test]
fn a_task_created_after_a_threadsafe_call_takes_its_first_step_after_it() {
    let lp = Loop::new().unwrap();
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    let order = Arc::new(Mutex::new(Vec::new()));
    let o1 = order.clone();
    lp.call_soon_threadsafe(move || o1.lock().unwrap().push("a")).unwrap();
    let o2 = order.clone();
    let task = lp.create_task(async move { o2.lock().unwrap().push("task") }).unwrap();
    lp.call_soon(push(&log, "c")).unwrap();
    run_one_batch(&lp);
    assert!(task.done());
    assert_eq!(*order.lock().unwrap(), ["a", "task"]);
    lp.close().unwrap();
}
