//! CORE-14: `Runner` (asyncio 3.11's `asyncio.Runner`): several main futures
//! on one loop, one shutdown sequence, and the hook that loop-signals uses
//! for Ctrl-C.

mod core_util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use core_util::drop_flag;
use loop_core::{Error, Loop, MainTaskHook, Runner, TaskRef, get_running_loop, sleep};

#[test]
fn several_main_futures_run_on_one_loop_then_close_shuts_it_down() {
    let runner = Runner::new().unwrap();
    let lp = runner.get_loop().clone();
    let (l1, l2) = (lp.clone(), lp.clone());
    let first = runner.run(async move { get_running_loop().unwrap().ptr_eq(&l1) }).unwrap();
    // A task left pending by the first run is still there for the second.
    let (flag, dropped) = drop_flag();
    let leftover = lp
        .create_task(async move {
            let _flag = flag;
            sleep(Duration::from_secs(3600)).await
        })
        .unwrap();
    let second = runner.run(async move { get_running_loop().unwrap().ptr_eq(&l2) }).unwrap();
    assert!(first && second);
    assert!(!leftover.done());
    assert!(loop_core::get_event_loop().unwrap().ptr_eq(&lp), "the runner's loop is current");
    runner.close().unwrap();
    // Close cancelled the leftover, ran it to its end, and closed the loop.
    assert!(dropped.get());
    assert!(leftover.cancelled());
    assert!(lp.is_closed());
    assert!(!loop_core::get_event_loop().unwrap().ptr_eq(&lp), "no longer current");
}

#[test]
fn a_runner_inside_a_running_loop_is_an_error() {
    let runner = Runner::new().unwrap();
    let inner = runner.run(async { Runner::new().map(drop) }).unwrap();
    assert!(matches!(inner, Err(Error::AnotherLoopRunning)), "{inner:?}");
    let lp = runner.get_loop().clone();
    runner.close().unwrap();
    assert!(lp.is_closed());
}

#[test]
fn dropping_a_runner_closes_its_loop() {
    let lp: Loop;
    {
        let runner = Runner::new().unwrap();
        lp = runner.get_loop().clone();
        runner.run(async {}).unwrap();
    }
    assert!(lp.is_closed());
}

/// Records what the runner tells it, and can refuse to start or replace
/// the outcome.
#[derive(Default)]
struct Recorder {
    log: Rc<RefCell<Vec<String>>>,
    refuse: bool,
    replace: Option<Error>,
    main: Rc<RefCell<Option<TaskRef>>>,
}

impl MainTaskHook for Recorder {
    fn started(&self, _lp: &Loop, main: &TaskRef) -> loop_core::Result<()> {
        self.log.borrow_mut().push(format!("started done={}", main.done()));
        *self.main.borrow_mut() = Some(main.clone());
        if self.refuse { Err(Error::InvalidState("refused".into())) } else { Ok(()) }
    }
    fn finished(&self, _lp: &Loop, error: Option<&Error>) -> Option<Error> {
        self.log.borrow_mut().push(format!("finished {error:?}"));
        self.replace.clone()
    }
}

#[test]
fn the_hook_sees_every_main_task_and_may_replace_its_error() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let main = Rc::new(RefCell::new(None));
    let hook = Recorder { log: log.clone(), main: main.clone(), ..Recorder::default() };
    let runner = Runner::new().unwrap().with_hook(hook);
    assert_eq!(runner.run(async { 5 }).unwrap(), 5);
    // The hook cancels the main task (as Ctrl-C does) from a callback.
    let m = main.clone();
    let lp = runner.get_loop().clone();
    lp.call_soon(move || {
        m.borrow().as_ref().unwrap().cancel();
    })
    .unwrap();
    let out = runner.run(sleep(Duration::from_secs(3600)));
    assert!(matches!(out, Err(Error::Cancelled { .. })), "{out:?}");
    assert_eq!(
        *log.borrow(),
        vec![
            "started done=false",
            "finished None",
            "started done=false",
            "finished Some(Cancelled { message: None })"
        ]
    );
    runner.close().unwrap();

    let replacing = Recorder { replace: Some(Error::Interrupted), ..Recorder::default() };
    let runner = Runner::new().unwrap().with_hook(replacing);
    assert!(matches!(runner.run(async { 1 }), Err(Error::Interrupted)));
    runner.close().unwrap();
}

#[test]
fn a_hook_that_refuses_to_start_cancels_the_main_task() {
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let hook = Recorder { refuse: true, ..Recorder::default() };
    let runner = Runner::new().unwrap().with_hook(hook);
    let out = runner.run(async move { r.set(true) });
    assert!(matches!(out, Err(Error::InvalidState(_))), "{out:?}");
    runner.close().unwrap();
    assert!(!ran.get(), "the main task never ran");
}

/// A guard whose drop (the task's cleanup when it is cancelled) panics.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("cleanup failed");
    }
}

/// Each report's message and error.
type Reports = Rc<RefCell<Vec<(String, Option<Error>)>>>;

/// Records every report's message and error.
fn record(lp: &Loop) -> Reports {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l2 = log.clone();
    lp.set_exception_handler(Some(Rc::new(move |_: &Loop, ctx: &loop_core::ExceptionContext| {
        l2.borrow_mut().push((ctx.message.clone(), ctx.error.clone()))
    })));
    log
}

#[test]
fn a_leftover_task_failing_in_its_cleanup_at_shutdown_reaches_the_handler() {
    // asyncio.run reports a leftover task that, once cancelled, ends with an
    // exception (raised in its cleanup) rather than CancelledError. In Rust
    // the cleanup is the future's drop; a panic there is that exception.
    let runner = Runner::new().unwrap();
    let reports = record(runner.get_loop());
    let lp = runner.get_loop().clone();
    // Started (holding its guard) by the run below; its handle is kept.
    let kept = lp
        .create_task(async {
            let _guard = PanicsWhenDropped;
            sleep(Duration::from_secs(3600)).await.unwrap();
        })
        .unwrap();
    let detached_lp = runner.get_loop().clone();
    runner
        .run(async move {
            drop(detached_lp.create_task(async {
                let _guard = PanicsWhenDropped;
                sleep(Duration::from_secs(3600)).await.unwrap();
            }));
        })
        .unwrap();
    runner.close().unwrap();
    assert!(kept.done() && !kept.cancelled(), "{kept:?}");
    let reports = reports.borrow();
    let messages: Vec<&str> = reports.iter().map(|(m, _)| m.as_str()).collect();
    let mut sorted = messages.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["Task exception was never retrieved", "unhandled error during asyncio.run() shutdown"],
        "{reports:?}"
    );
    for (_, e) in reports.iter() {
        assert!(matches!(e, Some(Error::Panicked(m)) if m == "cleanup failed"), "{reports:?}");
    }
}
