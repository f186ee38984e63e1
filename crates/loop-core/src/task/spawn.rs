//! Creating a task: one allocation, a slab slot, and the first schedule.

use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use super::cell::{OkFuture, SCHEDULED, TaskCell, TaskHeader, TaskPtr};
use super::waker::LoopKey;
use super::{LocalBoxFuture, Task, TaskRef};
use crate::Loop;
use crate::error::{Error, Result};

static NEXT_TASK_ID: AtomicU64 = AtomicU64::new(1);

/// Task ids are handed to each thread in blocks, so creating a task does no
/// atomic read-modify-write (ids stay process-unique and increase per
/// thread).
const ID_BLOCK: u64 = 1024;

thread_local! {
    /// The next id of this thread's block, and the block's end.
    static ID_RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn next_task_id() -> u64 {
    ID_RANGE
        .try_with(|r| {
            let (mut next, mut end) = r.get();
            if next == end {
                next = NEXT_TASK_ID.fetch_add(ID_BLOCK, Ordering::Relaxed);
                end = next + ID_BLOCK;
            }
            r.set((next + 1, end));
            next
        })
        .unwrap_or_else(|_| NEXT_TASK_ID.fetch_add(1, Ordering::Relaxed))
}

/// A factory-wrapped task's future: runs the factory's body, then yields
/// the output the original future left behind.
pub(crate) struct FactoryBody<T> {
    wrapped: Option<LocalBoxFuture<()>>,
    out: Rc<Cell<Option<T>>>,
}

impl<T> Future for FactoryBody<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        if let Some(w) = this.wrapped.as_mut() {
            if w.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        // A factory body that never ran the original future is treated as a
        // cancellation.
        Poll::Ready(this.out.take().ok_or_else(Error::cancelled))
    }
}

/// Stores `cell` in the loop's slab and queues its first step.
fn register<F, T>(lp: &Loop, key: LoopKey, cell: &Pin<Rc<TaskCell<F, T>>>) -> Result<()>
where
    F: Future<Output = Result<T>> + 'static,
    T: 'static,
{
    let id = lp.common().tasks.insert(key, TaskPtr(cell.clone()))?;
    cell.header.slot.set(id);
    Ok(())
}

fn schedule(lp: &Loop, header: &TaskHeader) {
    if !header.flags.replace(SCHEDULED, true) {
        lp.inner().schedule_task(header.slot.get());
    }
}

/// Creates a task on `lp` running `fut`, applying the loop's task factory.
pub(crate) fn spawn<F>(
    lp: &Loop,
    name: Option<String>,
    fut: F,
    site: &'static Location<'static>,
) -> Result<Task<F::Output>>
where
    F: Future + 'static,
    F::Output: 'static,
{
    if lp.is_closed() {
        return Err(Error::LoopClosed);
    }
    let key = lp.common().tasks.register(lp)?;
    let header = TaskHeader::new(next_task_id(), name, site, key);
    let Some(factory) = lp.common().task_factory() else {
        let cell = Rc::pin(TaskCell::new(header, OkFuture { fut }));
        register(lp, key, &cell)?;
        schedule(lp, &cell.header);
        return Ok(Task { cell });
    };
    let out = Rc::new(Cell::new(None));
    let body = FactoryBody { wrapped: None, out: out.clone() };
    let cell = Rc::pin(TaskCell::new(header, body));
    register(lp, key, &cell)?;
    let erased_body: LocalBoxFuture<()> = Box::pin(async move { out.set(Some(fut.await)) });
    let me = TaskRef(TaskPtr(cell.clone()));
    let wrapped = match catch_unwind(AssertUnwindSafe(|| factory(lp, &me, erased_body))) {
        Ok(w) => w,
        Err(payload) => {
            // The task never existed for anyone but the factory.
            drop(lp.common().tasks.remove(cell.header.slot.get()));
            resume_unwind(payload);
        }
    };
    cell.with_unstarted_future(|body| body.wrapped = Some(wrapped));
    schedule(lp, &cell.header);
    Ok(Task { cell })
}
