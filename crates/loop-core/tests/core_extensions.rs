//! Per-loop extension slots (`Loop::extension` and friends): state an upper
//! crate keeps per loop, with a close hook.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use loop_core::{Error, ExceptionContext, Loop, LoopExtension};

/// Logs its close hook, and whether scheduling still worked from it.
struct Logged {
    name: &'static str,
    log: Rc<RefCell<Vec<String>>>,
    lp: loop_core::WeakLoop,
}

impl LoopExtension for Logged {
    fn on_close(&self) {
        let scheduling = match self.lp.upgrade().map(|lp| lp.call_soon(|| {})) {
            Some(Err(Error::LoopClosed)) => "refused",
            Some(Ok(_)) => "accepted",
            Some(Err(_)) => "other error",
            None => "no loop",
        };
        self.log.borrow_mut().push(format!("{} closed, scheduling {scheduling}", self.name));
    }
}

struct Other(u32);
impl LoopExtension for Other {}

fn logged(name: &'static str, lp: &Loop, log: &Rc<RefCell<Vec<String>>>) -> Rc<Logged> {
    Rc::new(Logged { name, log: log.clone(), lp: lp.downgrade() })
}

#[test]
fn one_slot_per_type_set_get_replace_remove() {
    let lp = Loop::new().unwrap();
    let log = Rc::default();
    assert!(lp.extension::<Logged>().is_none());
    let a = logged("a", &lp, &log);
    assert!(lp.set_extension(a.clone()).unwrap().is_none());
    lp.set_extension(Rc::new(Other(7))).unwrap();
    assert!(Rc::ptr_eq(&lp.extension::<Logged>().unwrap(), &a));
    assert_eq!(lp.extension::<Other>().unwrap().0, 7);
    // Replacing hands the old one back, without its close hook.
    let b = logged("b", &lp, &log);
    let old = lp.set_extension(b.clone()).unwrap().unwrap();
    assert!(Rc::ptr_eq(&old, &a));
    assert!(Rc::ptr_eq(&lp.remove_extension::<Logged>().unwrap(), &b));
    assert!(lp.extension::<Logged>().is_none());
    assert_eq!(lp.extension::<Other>().unwrap().0, 7, "other slots are untouched");
    lp.close().unwrap();
    assert!(log.borrow().is_empty(), "removed extensions are not closed: {:?}", log.borrow());
}

#[test]
fn close_calls_every_hook_once_most_recent_first_then_drops_them() {
    let lp = Loop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let first = logged("first", &lp, &log);
    let weak = Rc::downgrade(&first);
    lp.set_extension(first).unwrap();
    lp.set_extension(Rc::new(Other(1))).unwrap();
    struct Second(Rc<Logged>);
    impl LoopExtension for Second {
        fn on_close(&self) {
            self.0.log.borrow_mut().push("second closed".into());
        }
    }
    lp.set_extension(Rc::new(Second(logged("unused", &lp, &log)))).unwrap();
    lp.close().unwrap();
    assert_eq!(*log.borrow(), vec!["second closed", "first closed, scheduling refused"]);
    assert!(weak.upgrade().is_none(), "the loop dropped its extensions");
    assert!(lp.extension::<Other>().is_none());
    lp.close().unwrap();
    assert_eq!(log.borrow().len(), 2, "close is idempotent: hooks run once");
    assert!(matches!(lp.set_extension(Rc::new(Other(2))), Err(Error::LoopClosed)));
}

#[test]
fn dropping_an_unclosed_loop_runs_the_hooks() {
    let log = Rc::new(RefCell::new(Vec::new()));
    {
        let lp = Loop::new().unwrap();
        lp.set_extension(logged("dropped", &lp, &log)).unwrap();
    }
    assert_eq!(*log.borrow(), vec!["dropped closed, scheduling no loop"]);
}

#[test]
fn insert_with_runs_init_once_and_keeps_the_slot_empty_on_error() {
    let lp = Loop::new().unwrap();
    let calls = Cell::new(0);
    let failed: Result<Rc<Other>, Error> = lp.extension_or_try_insert_with(|| {
        calls.set(calls.get() + 1);
        Err(Error::InvalidArgument("no".into()))
    });
    assert!(matches!(failed, Err(Error::InvalidArgument(_))));
    assert!(lp.extension::<Other>().is_none());
    // init may use the loop (no borrow of it is held).
    let l2 = lp.clone();
    let made: Rc<Other> = lp
        .extension_or_try_insert_with(|| {
            calls.set(calls.get() + 1);
            l2.call_soon(|| {})?;
            Ok::<_, Error>(Other(3))
        })
        .unwrap();
    let again: Rc<Other> =
        lp.extension_or_try_insert_with(|| -> Result<Other, Error> { unreachable!() }).unwrap();
    assert!(Rc::ptr_eq(&made, &again));
    assert_eq!(calls.get(), 2);
    lp.close().unwrap();
    let closed: Result<Rc<Other>, Error> = lp.extension_or_try_insert_with(|| Ok(Other(4)));
    assert!(matches!(closed, Err(Error::LoopClosed)));
}

#[test]
fn a_panicking_hook_is_reported_and_the_other_hooks_still_run() {
    let lp = Loop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let reports = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    lp.set_exception_handler(Some(Rc::new(move |_: &Loop, ctx: &ExceptionContext| {
        r.borrow_mut().push(ctx.to_string());
    })));
    lp.set_extension(logged("survivor", &lp, &log)).unwrap();
    struct Boom;
    impl LoopExtension for Boom {
        fn on_close(&self) {
            panic!("boom in a close hook");
        }
    }
    lp.set_extension(Rc::new(Boom)).unwrap();
    lp.close().unwrap();
    assert_eq!(log.borrow().len(), 1, "the earlier extension was still closed");
    let reports = reports.borrow();
    assert!(reports.iter().any(|m| m.contains("boom in a close hook")), "{reports:?}");
}
