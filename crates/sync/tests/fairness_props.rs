//! Property tests: under any interleaving of acquire/poll/cancel/release, a
//! Lock or Semaphore serves waiters first come, first served, never loses a
//! wake-up and never loses or invents a permit (SPEC SY-01, SY-04).

mod util;

use std::future::Future;
use std::task::Poll;

use loop_sync::lock::Acquire as LockAcquire;
use loop_sync::semaphore::Acquire as SemAcquire;
use loop_sync::{Lock, LockGuard, Semaphore, SemaphoreGuard};
use proptest::prelude::*;
use proptest::sample::Index;
use util::Probe;

/// What the harness needs from a primitive.
trait Primitive {
    type Fut<'a>: Future<Output = Self::Guard<'a>> + Unpin
    where
        Self: 'a;
    type Guard<'a>
    where
        Self: 'a;
    fn acquire(&self) -> Self::Fut<'_>;
    fn try_acquire(&self) -> Option<Self::Guard<'_>>;
    /// Permits free for a newcomer.
    fn free(&self) -> usize;
}

impl Primitive for Lock {
    type Fut<'a> = LockAcquire<'a>;
    type Guard<'a> = LockGuard<'a>;
    fn acquire(&self) -> LockAcquire<'_> {
        Lock::acquire(self)
    }
    fn try_acquire(&self) -> Option<LockGuard<'_>> {
        Lock::try_acquire(self)
    }
    fn free(&self) -> usize {
        usize::from(!self.locked())
    }
}

impl Primitive for Semaphore {
    type Fut<'a> = SemAcquire<'a>;
    type Guard<'a> = SemaphoreGuard<'a>;
    fn acquire(&self) -> SemAcquire<'_> {
        Semaphore::acquire(self)
    }
    fn try_acquire(&self) -> Option<SemaphoreGuard<'_>> {
        Semaphore::try_acquire(self)
    }
    fn free(&self) -> usize {
        self.value()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Start,
    TryAcquire,
    Poll(Index),
    Cancel(Index),
    Release(Index),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Start),
        1 => Just(Op::TryAcquire),
        3 => any::<Index>().prop_map(Op::Poll),
        2 => any::<Index>().prop_map(Op::Cancel),
        3 => any::<Index>().prop_map(Op::Release),
    ]
}

fn run<P: Primitive>(prim: &P, capacity: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut waiting: Vec<(P::Fut<'_>, Probe)> = Vec::new();
    let mut held: Vec<P::Guard<'_>> = Vec::new();
    for op in ops {
        match op {
            Op::Start => {
                let mut fut = prim.acquire();
                let probe = Probe::new();
                match probe.poll(&mut fut) {
                    Poll::Ready(g) => held.push(g),
                    Poll::Pending => waiting.push((fut, probe)),
                }
            }
            Op::TryAcquire => {
                // Neither a queued waiter nor a woken one that has not run
                // yet may be overtaken (asyncio 3.13: woken waiters keep
                // their priority).
                let anyone_waits = !waiting.is_empty();
                let promised = waiting.iter().any(|(_, p)| p.woken() > 0);
                match prim.try_acquire() {
                    Some(g) => {
                        prop_assert!(!anyone_waits, "try_acquire barged past a waiter");
                        held.push(g);
                    }
                    None => prop_assert!(
                        prim.free() == 0 || promised,
                        "try_acquire refused a free permit nobody was woken for"
                    ),
                }
            }
            Op::Poll(i) if !waiting.is_empty() => {
                let k = i.index(waiting.len());
                let (fut, probe) = &mut waiting[k];
                let woken = probe.woken() > 0;
                match probe.poll(fut) {
                    Poll::Ready(g) => {
                        prop_assert!(woken, "acquired without a wake-up");
                        drop(waiting.remove(k));
                        held.push(g);
                    }
                    Poll::Pending => prop_assert!(!woken, "woken but not served"),
                }
            }
            Op::Cancel(i) if !waiting.is_empty() => {
                let k = i.index(waiting.len());
                drop(waiting.remove(k));
            }
            Op::Release(i) if !held.is_empty() => {
                let k = i.index(held.len());
                drop(held.remove(k));
            }
            _ => {}
        }
        let woken: Vec<bool> = waiting.iter().map(|(_, p)| p.woken() > 0).collect();
        prop_assert!(woken.windows(2).all(|w| w[0] || !w[1]), "served out of order: {:?}", woken);
        let promised = woken.iter().filter(|w| **w).count();
        // A waiter may wait beside a free permit only while a woken waiter
        // has not run yet: when it runs it passes the free permits on.
        if woken.iter().any(|w| !w) && promised == 0 {
            prop_assert_eq!(prim.free(), 0, "a waiter waits beside a free permit");
        }
        prop_assert_eq!(held.len() + promised + prim.free(), capacity, "permits lost or invented");
    }
    drop(waiting);
    drop(held);
    prop_assert_eq!(prim.free(), capacity);
    Ok(())
}

/// Cases per property: 512, or 4 under Miri (`cargo xtask sanitize miri`),
/// where each case runs thousands of times slower; there the point is to
/// check for undefined behaviour and leaks along real operation sequences,
/// not to search widely.
fn config() -> ProptestConfig {
    let cases = if cfg!(miri) { 4 } else { 512 };
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn lock_is_fair_and_loses_no_wake_up(ops in prop::collection::vec(op(), 0..80)) {
        run(&Lock::new(), 1, ops)?;
    }

    #[test]
    fn semaphore_is_fair_and_loses_no_permit(
        permits in 0usize..4,
        ops in prop::collection::vec(op(), 0..80),
    ) {
        let sem = Semaphore::new(permits as isize).unwrap();
        run(&sem, permits, ops)?;
    }
}
