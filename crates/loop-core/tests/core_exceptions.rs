//! CORE-11: panics in callbacks are caught and reported with their context
//! to the exception handler; the loop keeps running. Custom handlers, the
//! default handler (through `tracing`), `call_exception_handler`.

mod core_util;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use core_util::{LIMIT, Recorder, Watchdog};
use loop_core::test_util::TestLoop;
use loop_core::{Error, ExceptionContext, Loop, default_exception_handler};

type Reports = Rc<RefCell<Vec<ExceptionContext>>>;

fn record_exceptions(lp: &Loop) -> Reports {
    let reports: Reports = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    lp.set_exception_handler(Some(Rc::new(move |_lp, ctx| r.borrow_mut().push(ctx.clone()))));
    reports
}

fn panicked_with(ctx: &ExceptionContext, text: &str) -> bool {
    matches!(&ctx.error, Some(Error::Panicked(m)) if m.contains(text))
}

#[test]
fn a_panic_in_a_callback_is_reported_with_its_context_and_the_loop_keeps_running() {
    let t = TestLoop::new().unwrap();
    let reports = record_exceptions(&t);
    let h = t.call_soon(|| panic!("callback boom")).unwrap();
    let after = Rc::new(Cell::new(false));
    let a = after.clone();
    t.call_soon(move || a.set(true)).unwrap();
    t.stop();
    t.run_forever().unwrap();
    assert!(after.get(), "the rest of the batch did not run");
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1);
    let ctx = &reports[0];
    assert!(ctx.message.contains("Exception in callback"), "{}", ctx.message);
    assert!(panicked_with(ctx, "callback boom"), "{ctx:?}");
    assert!(ctx.handle.as_ref().expect("the handle").ptr_eq(&h));
    assert!(ctx.task.is_none());
    // The loop can run again.
    assert_eq!(t.run_until_complete(async { 1 }).unwrap(), 1);
    t.close().unwrap();
}

#[test]
fn panics_in_timer_reader_and_threadsafe_callbacks_are_caught() {
    let lp = Loop::new().unwrap();
    let reports = record_exceptions(&lp);
    let timer = lp.call_later(Duration::from_millis(1), || panic!("timer boom")).unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    lp.add_reader(&a, || panic!("reader boom")).unwrap();
    b.write_all(b"x").unwrap();
    lp.call_soon_threadsafe(|| panic!("remote boom")).unwrap();
    let lp2 = lp.clone();
    let r = reports.clone();
    // Stop once all three were reported (the reader fires repeatedly).
    fn check(lp: Loop, r: Reports) {
        let seen = |s: &str| r.borrow().iter().any(|c| panicked_with(c, s));
        if seen("timer boom") && seen("reader boom") && seen("remote boom") {
            lp.stop();
        } else {
            let l2 = lp.clone();
            lp.call_soon(move || check(l2, r)).unwrap();
        }
    }
    lp.call_soon(move || check(lp2, r)).unwrap();
    let dog = Watchdog::new(&lp, LIMIT);
    lp.run_forever().unwrap();
    dog.finish();
    let reports = reports.borrow();
    let timer_ctx = reports.iter().find(|c| panicked_with(c, "timer boom")).unwrap();
    assert!(timer_ctx.handle.as_ref().unwrap().ptr_eq(timer.handle()));
    let reader_ctx = reports.iter().find(|c| panicked_with(c, "reader boom")).unwrap();
    assert!(reader_ctx.handle.is_some());
    lp.remove_reader(&a).unwrap();
    lp.close().unwrap();
}

#[test]
fn a_panicking_custom_handler_falls_back_to_the_default_handler() {
    let rec = Recorder::default();
    rec.capture(|| {
        let t = TestLoop::new().unwrap();
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        t.set_exception_handler(Some(Rc::new(move |_, _| {
            c.set(c.get() + 1);
            panic!("handler boom");
        })));
        t.call_soon(|| panic!("original boom")).unwrap();
        let after = Rc::new(Cell::new(false));
        let a = after.clone();
        t.call_soon(move || a.set(true)).unwrap();
        t.stop();
        t.run_forever().unwrap();
        assert_eq!(calls.get(), 1);
        assert!(after.get(), "the loop stopped running callbacks");
        t.close().unwrap();
    });
    let errors: Vec<_> =
        rec.events().into_iter().filter(|e| e.level == tracing::Level::ERROR).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.text.contains("exception handler") && e.text.contains("handler boom")),
        "{errors:#?}"
    );
    assert!(errors.iter().any(|e| e.text.contains("original boom")), "{errors:#?}");
}

#[test]
fn without_a_custom_handler_the_default_handler_logs_through_tracing() {
    let rec = Recorder::default();
    rec.capture(|| {
        let t = TestLoop::new().unwrap();
        assert!(t.exception_handler().is_none());
        t.call_soon(|| panic!("logged boom")).unwrap();
        t.stop();
        t.run_forever().unwrap();
        t.close().unwrap();
    });
    let hits = rec.matching("logged boom");
    assert_eq!(hits.len(), 1, "{:#?}", rec.events());
    assert_eq!(hits[0].level, tracing::Level::ERROR);
    assert_eq!(hits[0].target, "tulip");
    assert!(hits[0].text.contains("Exception in callback"));
    // The creation site of the handle is part of the report.
    assert!(hits[0].text.contains("core_exceptions.rs"), "{}", hits[0].text);
}

#[test]
fn call_exception_handler_reaches_the_custom_handler_with_every_field() {
    let t = TestLoop::new().unwrap();
    let reports = record_exceptions(&t);
    let task = t.create_named_task("reported", async {}).unwrap();
    let h = t.call_soon(|| {}).unwrap();
    let ctx = ExceptionContext::new("custom failure")
        .with_error(Error::failed("why"))
        .with_task(task.as_task_ref())
        .with_handle(h.clone())
        .with_future("fut")
        .with_protocol("proto")
        .with_transport("trans")
        .with_socket("sock");
    t.call_exception_handler(ctx);
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1);
    let got = &reports[0];
    assert_eq!(got.message, "custom failure");
    assert_eq!(got.error.as_ref().unwrap().to_string(), "why");
    assert_eq!(got.task.as_ref().unwrap().name(), "reported");
    assert!(got.handle.as_ref().unwrap().ptr_eq(&h));
    assert_eq!(got.future.as_deref(), Some("fut"));
    assert_eq!(got.protocol.as_deref(), Some("proto"));
    assert_eq!(got.transport.as_deref(), Some("trans"));
    assert_eq!(got.socket.as_deref(), Some("sock"));
    t.close().unwrap();
}

#[test]
fn the_handler_gets_the_loop_and_can_be_read_replaced_and_removed() {
    let t = TestLoop::new().unwrap();
    let same_loop = Rc::new(Cell::new(false));
    let (s, me) = (same_loop.clone(), t.handle().clone());
    let handler: loop_core::ExceptionHandler = Rc::new(move |lp, _| s.set(lp.ptr_eq(&me)));
    t.set_exception_handler(Some(handler.clone()));
    assert!(Rc::ptr_eq(&t.exception_handler().unwrap(), &handler));
    t.call_exception_handler(ExceptionContext::new("x"));
    assert!(same_loop.get());
    t.set_exception_handler(None);
    assert!(t.exception_handler().is_none());
    // Back to the default handler: logged, not sent to the old handler.
    same_loop.set(false);
    let rec = Recorder::default();
    rec.capture(|| t.call_exception_handler(ExceptionContext::new("to the default")));
    assert!(!same_loop.get());
    assert_eq!(rec.matching("to the default").len(), 1);
    drop(handler);
    t.close().unwrap();
}

#[test]
fn a_handler_may_fall_back_to_the_default_handler() {
    let rec = Recorder::default();
    rec.capture(|| {
        let t = TestLoop::new().unwrap();
        t.set_exception_handler(Some(Rc::new(|lp, ctx| {
            lp.default_exception_handler(ctx);
            default_exception_handler(&ExceptionContext::new("second"));
        })));
        t.call_exception_handler(ExceptionContext::new("first"));
        t.close().unwrap();
    });
    assert_eq!(rec.matching("first").len(), 1);
    assert_eq!(rec.matching("second").len(), 1);
}

#[test]
fn a_handler_that_schedules_work_does_not_break_the_loop() {
    let t = TestLoop::new().unwrap();
    let followups = Rc::new(Cell::new(0));
    let f = followups.clone();
    t.set_exception_handler(Some(Rc::new(move |lp, _| {
        let f = f.clone();
        lp.call_soon(move || f.set(f.get() + 1)).unwrap();
        // Replacing the handler from inside the handler is allowed.
        lp.set_exception_handler(None);
    })));
    t.call_soon(|| panic!("first")).unwrap();
    for _ in 0..2 {
        t.stop();
        t.run_forever().unwrap();
    }
    assert_eq!(followups.get(), 1);
    assert!(t.exception_handler().is_none());
    t.close().unwrap();
}
