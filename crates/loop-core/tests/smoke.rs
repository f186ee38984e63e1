//! Smoke test: callbacks, timers, tasks and futures work together.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use loop_core::{Loop, sleep};

#[test]
fn callbacks_timers_tasks() {
    let lp = Loop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    lp.call_soon(move || l.borrow_mut().push("soon")).unwrap();
    let l = log.clone();
    lp.call_later(Duration::from_millis(5), move || l.borrow_mut().push("later")).unwrap();
    let l = log.clone();
    let lp2 = lp.clone();
    let out = lp
        .run_until_complete(async move {
            sleep(Duration::from_millis(20)).await.unwrap();
            l.borrow_mut().push("task");
            let fut = lp2.create_future::<u32>();
            let f2 = fut.clone();
            lp2.call_soon(move || f2.set_result(7).unwrap()).unwrap();
            let t = lp2.create_task(async move { fut.await.unwrap() * 6 }).unwrap();
            t.await.unwrap()
        })
        .unwrap();
    assert_eq!(out, 42);
    assert_eq!(*log.borrow(), vec!["soon", "later", "task"]);
    lp.close().unwrap();
}
