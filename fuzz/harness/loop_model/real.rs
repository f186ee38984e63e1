//! The real side: the script's calls on a `TestLoop`. Every callback is
//! `move || fire(id)` (so it is `Send`, for `call_soon_threadsafe`) and
//! finds its work in a thread-local [`World`]; when it runs it records its
//! id, checks that it runs at most once, was not cancelled and is not
//! early, then makes its calls. Broken checks inside callbacks (where the
//! loop catches panics) and exception-handler calls are collected as
//! problems.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use loop_core::{Handle, Loop, LoopFuture, TimerHandle};

use super::ops::{Action, Outcome, SENTINEL, Spec, sentinel_spec};

thread_local! {
    static WORLD: RefCell<Option<World>> = const { RefCell::new(None) };
    static PROBLEMS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// What the script holds of a scheduled callback.
#[derive(Debug)]
pub enum Sched {
    /// Refused, or `call_soon_threadsafe` (no handle).
    None,
    /// A `call_soon` handle.
    Soon(Handle),
    /// A timer.
    Timer(TimerHandle),
}

impl Sched {
    /// Whether the handle reports being cancelled (`None`: no handle).
    pub fn cancelled(&self) -> Option<bool> {
        match self {
            Sched::None => None,
            Sched::Soon(h) => Some(h.cancelled()),
            Sched::Timer(t) => Some(t.cancelled()),
        }
    }
}

/// The real side's state.
#[derive(Debug)]
pub struct World {
    pub lp: Loop,
    /// The loop's time at the start.
    pub t0: Instant,
    /// Ids of the callbacks that ran, in order.
    pub log: Vec<u32>,
    /// What every call returned, in order.
    pub results: Vec<Outcome>,
    specs: Vec<Spec>,
    /// Every callback scheduled (or refused), by id.
    pub sched: Vec<Sched>,
    ran: Vec<bool>,
    cancellable: Vec<u32>,
    pub futures: Vec<LoopFuture<u32>>,
}

/// Records a broken check; the driver fails the run with it.
pub fn problem(what: String) {
    PROBLEMS.with_borrow_mut(|p| p.push(what));
}

/// Takes the problems recorded so far.
pub fn take_problems() -> Vec<String> {
    PROBLEMS.with_borrow_mut(std::mem::take)
}

/// Runs `f` on this thread's world.
///
/// # Panics
///
/// When no world is installed (a broken harness).
pub fn with_world<R>(f: impl FnOnce(&mut World) -> R) -> R {
    WORLD.with_borrow_mut(|w| f(w.as_mut().expect("a world is installed")))
}

/// Installs a world for `lp` (one future, the first sentinel) and an
/// exception handler that records what it is given.
pub fn install(lp: &Loop) {
    let handler: loop_core::ExceptionHandler =
        Rc::new(|_, ctx| problem(format!("exception handler called: {ctx}")));
    lp.set_exception_handler(Some(handler));
    let world = World {
        lp: lp.clone(),
        t0: lp.time(),
        log: Vec::new(),
        results: Vec::new(),
        specs: Vec::new(),
        sched: Vec::new(),
        ran: Vec::new(),
        cancellable: Vec::new(),
        futures: vec![lp.create_future()],
    };
    WORLD.with_borrow_mut(|w| *w = Some(world));
    take_problems();
    with_world(|w| w.timer(When::Later(SENTINEL), sentinel_spec(), false));
}

/// Drops the world (its handles and futures).
pub fn uninstall() -> Option<World> {
    WORLD.with_borrow_mut(Option::take)
}

fn fire(id: u32) {
    with_world(|w| w.fire(id));
}

/// How a timer's deadline is chosen.
enum When {
    Later(Duration),
    At(Instant),
}

impl World {
    fn new_id(&mut self, spec: Spec) -> u32 {
        let id = u32::try_from(self.specs.len()).expect("fewer than 2^32 callbacks");
        self.specs.push(spec);
        self.ran.push(false);
        self.sched.push(Sched::None);
        id
    }

    fn fire(&mut self, id: u32) {
        let i = id as usize;
        self.log.push(id);
        if std::mem::replace(&mut self.ran[i], true) {
            problem(format!("callback {id} ran twice"));
        }
        match &self.sched[i] {
            Sched::Soon(h) if h.cancelled() => problem(format!("cancelled callback {id} ran")),
            Sched::Timer(t) if t.cancelled() => problem(format!("cancelled timer {id} ran")),
            Sched::Timer(t) if self.lp.time() < t.when() => {
                problem(format!("timer {id} ran early: {:?} before its deadline", {
                    t.when() - self.lp.time()
                }));
            }
            _ => {}
        }
        let spec = self.specs[i].clone();
        for a in spec.iter() {
            self.perform(a);
        }
    }

    /// Makes the call `a` describes.
    pub fn perform(&mut self, a: &Action) {
        match a {
            Action::Soon(spec) => {
                let id = self.new_id(spec.clone());
                let r = self.lp.call_soon(move || fire(id));
                self.results.push(Outcome::of(&r));
                if let Ok(h) = r {
                    self.sched[id as usize] = Sched::Soon(h);
                    self.cancellable.push(id);
                }
            }
            Action::Threadsafe(spec) => {
                let id = self.new_id(spec.clone());
                let r = self.lp.call_soon_threadsafe(move || fire(id));
                self.results.push(Outcome::of(&r));
            }
            Action::Later(delay, spec) => {
                self.timer(When::Later(*delay), spec.clone(), true);
            }
            Action::At { back, by, spec } => {
                let now = self.lp.time();
                let when = if *back { now.checked_sub(*by) } else { now.checked_add(*by) };
                let when = when.expect("small offsets from the loop's time fit an Instant");
                self.timer(When::At(when), spec.clone(), true);
            }
            Action::Cancel(k) => {
                if self.cancellable.is_empty() {
                    return;
                }
                let id = self.cancellable[usize::from(*k) % self.cancellable.len()];
                match &self.sched[id as usize] {
                    Sched::Soon(h) => h.cancel(),
                    Sched::Timer(t) if k & 0x80 != 0 => t.handle().cancel(),
                    Sched::Timer(t) => t.cancel(),
                    Sched::None => problem(format!("callback {id} has no handle to cancel")),
                }
            }
            Action::Stop => self.lp.stop(),
            Action::Resolve(k) => {
                if self.futures.is_empty() {
                    return;
                }
                let f = usize::from(*k) % self.futures.len();
                let r = self.futures[f].set_result(u32::try_from(f).expect("few futures"));
                self.results.push(Outcome::of(&r));
            }
            Action::Rearm => {
                self.timer(When::Later(SENTINEL), sentinel_spec(), false);
            }
        }
    }

    fn timer(&mut self, when: When, spec: Spec, cancellable: bool) -> u32 {
        let id = self.new_id(spec);
        let r = match when {
            When::Later(d) => self.lp.call_later(d, move || fire(id)),
            When::At(t) => self.lp.call_at(t, move || fire(id)),
        };
        self.results.push(Outcome::of(&r));
        if let Ok(t) = r {
            self.sched[id as usize] = Sched::Timer(t);
            if cancellable {
                self.cancellable.push(id);
            }
        }
        id
    }

    /// `n` timers at `delay`, all but every `keep_every`-th cancelled at
    /// once (not targets of later `Cancel`s).
    pub fn burst(&mut self, n: u8, delay: Duration, keep_every: u8) {
        for i in 0..n {
            let id = self.timer(When::Later(delay), Spec::from([]), false);
            if i % keep_every != 0
                && let Sched::Timer(t) = &self.sched[id as usize]
            {
                t.cancel();
            }
        }
    }

    /// `create_future`.
    pub fn new_future(&mut self) {
        let f = self.lp.create_future();
        self.futures.push(f);
    }
}
