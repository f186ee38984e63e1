//! The future a task's runnable drives: the user's future wrapped with
//! cancellation, panic catching and `current_task` bookkeeping.

use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::{
    CURRENT_TASK, LocalBoxFuture, TRACE_STEP, TRACED_TASK, Task, TaskAny, TaskCell, TaskRef,
    TaskState,
};
use crate::Loop;
use crate::error::{Error, Result, panic_message};

pin_project_lite::pin_project! {
    /// Drives `fut` to completion and records the outcome in `cell`.
    struct TaskBody<F, T: 'static> {
        #[pin]
        fut: Option<F>,
        cell: Rc<TaskCell<T>>,
    }

    impl<F, T: 'static> PinnedDrop for TaskBody<F, T> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before completion (loop closed, runnable dropped):
            // the task ends cancelled so nobody waits forever.
            let this = this.project();
            if this.cell.header.state.get() == TaskState::Pending {
                this.cell.finish(Err(Error::Cancelled));
            }
        }
    }
}

impl<F, T> Future for TaskBody<F, T>
where
    F: Future<Output = Result<T>>,
    T: 'static,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let cell: &Rc<TaskCell<T>> = this.cell;
        let h = &cell.header;
        if h.state.get() != TaskState::Pending {
            return Poll::Ready(());
        }
        if h.cancel_requested.get() {
            this.fut.set(None);
            cell.finish(Err(Error::Cancelled));
            return Poll::Ready(());
        }
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            return Poll::Ready(());
        };
        let me: Rc<dyn TaskAny> = cell.clone();
        if TRACE_STEP.with(Cell::get) {
            TRACED_TASK.with(|t| t.set(Some(TaskRef(me.clone()))));
        }
        let prev = CURRENT_TASK.with(|c| c.replace(Some(TaskRef(me))));
        let polled = catch_unwind(AssertUnwindSafe(|| fut.poll(cx)));
        CURRENT_TASK.with(|c| c.set(prev));
        let outcome = match polled {
            Ok(Poll::Pending) => {
                // Keep the waker for `cancel` (only tasks that wait need it).
                let kept = match h.waker.take() {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                h.waker.set(Some(kept));
                if h.cancel_requested.get() {
                    // Cancelled during this very poll, before a waker was
                    // kept: come back at once to end.
                    cx.waker().wake_by_ref();
                }
                return Poll::Pending;
            }
            Ok(Poll::Ready(out)) => out,
            Err(payload) => Err(Error::Panicked(panic_message(&*payload))),
        };
        // Dropping the finished future may itself panic; the outcome stands.
        let _ = catch_unwind(AssertUnwindSafe(|| this.fut.set(None)));
        cell.finish(outcome);
        Poll::Ready(())
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
    let common = lp.common();
    let cell = Rc::new(TaskCell::<F::Output>::new(name, site, Some(lp.downgrade_rc())));
    let erased: Rc<dyn TaskAny> = cell.clone();
    cell.header.slot.set(common.tasks.insert(&erased));
    let sched = lp.scheduler();
    let schedule = move |runnable| sched(runnable);
    let runnable = match common.task_factory() {
        None => {
            let body = TaskBody { fut: Some(async move { Ok(fut.await) }), cell: cell.clone() };
            let (runnable, handle) = async_task::spawn_local(body, schedule);
            handle.detach();
            runnable
        }
        Some(factory) => {
            let out = Rc::new(std::cell::Cell::new(None));
            let out2 = out.clone();
            let erased_body: LocalBoxFuture<()> =
                Box::pin(async move { out2.set(Some(fut.await)) });
            let wrapped = factory(lp, &TaskRef(erased), erased_body);
            let typed = async move {
                wrapped.await;
                // A factory body that never ran the original future is
                // treated as a cancellation.
                out.take().ok_or(Error::Cancelled)
            };
            let body = TaskBody { fut: Some(typed), cell: cell.clone() };
            let (runnable, handle) = async_task::spawn_local(body, schedule);
            handle.detach();
            runnable
        }
    };
    runnable.schedule();
    Ok(Task { cell })
}
