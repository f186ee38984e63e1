//! Property tests: any interleaving of put/get/poll/cancel/shutdown on a queue
//! hands out every item exactly once, in the queue's order, and serves
//! waiting getters and putters first come, first served (SPEC SY-05).

mod util;

use std::collections::{BTreeSet, VecDeque};
use std::task::Poll;

use loop_sync::queue::{GenericQueue, Get, Put, Store};
use loop_sync::{Error, LifoQueue, PriorityQueue, PutError, Queue};
use proptest::prelude::*;
use proptest::sample::Index;
use util::Probe;

/// (priority, unique id): unique ids make every order total.
type Item = (u8, u32);

#[derive(Debug, Clone)]
enum Op {
    StartPut(u8),
    StartGet,
    PutNowait(u8),
    GetNowait,
    PollPut(Index),
    PollGet(Index),
    DropPut(Index),
    DropGet(Index),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..4).prop_map(Op::StartPut),
        3 => Just(Op::StartGet),
        2 => (0u8..4).prop_map(Op::PutNowait),
        2 => Just(Op::GetNowait),
        3 => any::<Index>().prop_map(Op::PollPut),
        3 => any::<Index>().prop_map(Op::PollGet),
        1 => any::<Index>().prop_map(Op::DropPut),
        1 => any::<Index>().prop_map(Op::DropGet),
    ]
}

/// The reference order a queue must follow.
trait Model: Default {
    fn push(&mut self, x: Item);
    fn pop(&mut self) -> Option<Item>;
    fn len(&self) -> usize;
}

#[derive(Default)]
struct FifoModel(VecDeque<Item>);
impl Model for FifoModel {
    fn push(&mut self, x: Item) {
        self.0.push_back(x);
    }
    fn pop(&mut self) -> Option<Item> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[derive(Default)]
struct LifoModel(Vec<Item>);
impl Model for LifoModel {
    fn push(&mut self, x: Item) {
        self.0.push(x);
    }
    fn pop(&mut self) -> Option<Item> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[derive(Default)]
struct PriorityModel(BTreeSet<Item>);
impl Model for PriorityModel {
    fn push(&mut self, x: Item) {
        self.0.insert(x);
    }
    fn pop(&mut self) -> Option<Item> {
        self.0.pop_first()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

struct Pending<F> {
    fut: F,
    probe: Probe,
}

impl<F> Pending<F> {
    fn woken(&self) -> bool {
        self.probe.woken() > 0
    }
}

struct Harness<'a, S: Store<Item = Item>, M> {
    q: &'a GenericQueue<S>,
    model: M,
    next_id: u32,
    puts: Vec<(Item, Pending<Put<'a, S>>)>,
    gets: Vec<Pending<Get<'a, S>>>,
    /// Items whose put completed.
    put_ok: Vec<Item>,
    /// Items handed out (by a get or by shutdown_immediate).
    out: Vec<Item>,
}

impl<'a, S: Store<Item = Item>, M: Model> Harness<'a, S, M> {
    fn new(q: &'a GenericQueue<S>) -> Self {
        Self {
            q,
            model: M::default(),
            next_id: 0,
            puts: Vec::new(),
            gets: Vec::new(),
            put_ok: Vec::new(),
            out: Vec::new(),
        }
    }

    fn item(&mut self, prio: u8) -> Item {
        self.next_id += 1;
        (prio, self.next_id)
    }

    fn put_done(&mut self, item: Item, r: Result<(), PutError<Item>>) -> Result<(), TestCaseError> {
        match r {
            Ok(()) => {
                self.model.push(item);
                self.put_ok.push(item);
            }
            Err(PutError::ShutDown(x)) => {
                prop_assert_eq!(x, item);
                prop_assert!(self.q.is_shutdown());
            }
            Err(PutError::Full(_)) => prop_assert!(false, "an async put never reports Full"),
        }
        Ok(())
    }

    fn get_done(&mut self, r: Result<Item, Error>) -> Result<(), TestCaseError> {
        match r {
            Ok(x) => {
                prop_assert_eq!(Some(x), self.model.pop(), "out of order or unknown item");
                self.out.push(x);
            }
            Err(e) => {
                prop_assert_eq!(e, Error::QueueShutDown);
                prop_assert!(self.q.is_shutdown());
                prop_assert_eq!(self.model.len(), 0);
            }
        }
        Ok(())
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::StartPut(prio) => {
                let item = self.item(prio);
                let mut p = Pending { fut: self.q.put(item), probe: Probe::new() };
                match p.probe.poll(&mut p.fut) {
                    Poll::Ready(r) => self.put_done(item, r)?,
                    Poll::Pending => self.puts.push((item, p)),
                }
            }
            Op::StartGet => {
                let mut g = Pending { fut: self.q.get(), probe: Probe::new() };
                match g.probe.poll(&mut g.fut) {
                    Poll::Ready(r) => self.get_done(r)?,
                    Poll::Pending => self.gets.push(g),
                }
            }
            Op::PutNowait(prio) => {
                let item = self.item(prio);
                match self.q.put_nowait(item) {
                    Err(PutError::Full(x)) => {
                        prop_assert_eq!(x, item);
                        prop_assert!(!self.q.is_shutdown() && self.q.full());
                    }
                    r => self.put_done(item, r)?,
                }
            }
            Op::GetNowait => match self.q.get_nowait() {
                Err(Error::QueueEmpty) => {
                    prop_assert!(!self.q.is_shutdown());
                    prop_assert_eq!(self.q.qsize(), 0);
                }
                r => self.get_done(r)?,
            },
            Op::PollPut(i) if !self.puts.is_empty() => {
                let k = i.index(self.puts.len());
                let (item, p) = &mut self.puts[k];
                let (item, woken) = (*item, p.woken());
                match p.probe.poll(&mut p.fut) {
                    Poll::Ready(r) => {
                        prop_assert!(woken, "completed without a wake-up");
                        self.puts.remove(k);
                        self.put_done(item, r)?;
                    }
                    Poll::Pending => prop_assert!(!woken, "woken but still pending"),
                }
            }
            Op::PollGet(i) if !self.gets.is_empty() => {
                let k = i.index(self.gets.len());
                let g = &mut self.gets[k];
                let woken = g.woken();
                match g.probe.poll(&mut g.fut) {
                    Poll::Ready(r) => {
                        prop_assert!(woken, "completed without a wake-up");
                        self.gets.remove(k);
                        self.get_done(r)?;
                    }
                    Poll::Pending => prop_assert!(!woken, "woken but still pending"),
                }
            }
            Op::DropPut(i) if !self.puts.is_empty() => {
                let k = i.index(self.puts.len());
                drop(self.puts.remove(k));
            }
            Op::DropGet(i) if !self.gets.is_empty() => {
                let k = i.index(self.gets.len());
                drop(self.gets.remove(k));
            }
            _ => {}
        }
        self.check_invariants()
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        // First come, first served: the woken waiters are a prefix of the
        // waiters in the order they queued.
        let gw: Vec<bool> = self.gets.iter().map(Pending::woken).collect();
        let pw: Vec<bool> = self.puts.iter().map(|(_, p)| p.woken()).collect();
        prop_assert!(gw.windows(2).all(|w| w[0] || !w[1]), "getters woken out of order: {:?}", gw);
        prop_assert!(pw.windows(2).all(|w| w[0] || !w[1]), "putters woken out of order: {:?}", pw);
        if !self.q.is_shutdown() {
            // No lost wake-up: nobody waits while what they wait for is there.
            if gw.iter().any(|w| !w) {
                prop_assert_eq!(self.q.qsize(), 0, "a getter waits beside an available item");
            }
            if pw.iter().any(|w| !w) {
                prop_assert!(self.q.full(), "a putter waits beside a free slot");
            }
            // Items are either available or reserved for a woken getter.
            let reserved = gw.iter().filter(|w| **w).count();
            prop_assert_eq!(self.q.qsize() + reserved, self.model.len());
            // Room is taken by every item in the queue (reserved or not)
            // and by every slot promised to a woken putter.
            let promised = pw.iter().filter(|w| **w).count();
            let max = self.q.maxsize();
            prop_assert_eq!(self.q.full(), max > 0 && self.model.len() + promised >= max);
        } else {
            prop_assert!(gw.iter().chain(&pw).all(|w| *w), "shutdown wakes everyone");
        }
        if self.q.maxsize() > 0 {
            prop_assert!(self.q.qsize() <= self.q.maxsize());
        }
        Ok(())
    }

    /// Cancels everything pending, drains the queue, and checks that every
    /// item put came out exactly once.
    fn finish(mut self) -> Result<(), TestCaseError> {
        self.puts.clear();
        self.gets.clear();
        while let Ok(x) = self.q.get_nowait() {
            self.get_done(Ok(x))?;
        }
        prop_assert_eq!(self.model.len(), 0, "items stuck in the queue");
        let mut put = self.put_ok.clone();
        let mut out = self.out.clone();
        put.sort_unstable();
        out.sort_unstable();
        prop_assert_eq!(put, out, "every item put comes out exactly once");
        Ok(())
    }
}

fn run<S: Store<Item = Item>, M: Model>(
    maxsize: usize,
    ops: Vec<Op>,
    shutdown: Option<(Index, bool)>,
) -> Result<(), TestCaseError> {
    let q = GenericQueue::<S>::new(maxsize);
    let mut h = Harness::<S, M>::new(&q);
    let at = shutdown.map(|(i, immediate)| (i.index(ops.len() + 1), immediate));
    for (n, op) in ops.into_iter().enumerate() {
        if let Some((k, immediate)) = at {
            if k == n {
                shut_down(&mut h, immediate)?;
            }
        }
        h.step(op)?;
    }
    h.finish()
}

fn shut_down<S: Store<Item = Item>, M: Model>(
    h: &mut Harness<'_, S, M>,
    immediate: bool,
) -> Result<(), TestCaseError> {
    if immediate {
        for x in h.q.shutdown_immediate() {
            prop_assert_eq!(Some(x), h.model.pop(), "drained out of order");
            h.out.push(x);
        }
    } else {
        h.q.shutdown();
    }
    h.check_invariants()
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
    fn fifo_queue_keeps_every_item_once_and_in_order(
        maxsize in 0usize..4,
        ops in prop::collection::vec(op(), 0..80),
        shutdown in prop::option::of((any::<Index>(), any::<bool>())),
    ) {
        run::<loop_sync::queue::Fifo<Item>, FifoModel>(maxsize, ops, shutdown)?;
    }

    #[test]
    fn lifo_queue_keeps_every_item_once_and_in_order(
        maxsize in 0usize..4,
        ops in prop::collection::vec(op(), 0..80),
        shutdown in prop::option::of((any::<Index>(), any::<bool>())),
    ) {
        run::<loop_sync::queue::Lifo<Item>, LifoModel>(maxsize, ops, shutdown)?;
    }

    #[test]
    fn priority_queue_keeps_every_item_once_and_in_order(
        maxsize in 0usize..4,
        ops in prop::collection::vec(op(), 0..80),
        shutdown in prop::option::of((any::<Index>(), any::<bool>())),
    ) {
        run::<loop_sync::queue::Priority<Item>, PriorityModel>(maxsize, ops, shutdown)?;
    }
}

#[test]
fn the_aliases_name_the_generic_queue() {
    let _: &GenericQueue<loop_sync::queue::Fifo<u8>> = &Queue::new(0);
    let _: &GenericQueue<loop_sync::queue::Lifo<u8>> = &LifoQueue::new(0);
    let _: &GenericQueue<loop_sync::queue::Priority<u8>> = &PriorityQueue::new(0);
}
