//! Write flow control as the protocol sees it (asyncio's
//! `FlowControlMixin`): paused between `pause_writing` and
//! `resume_writing`, and whether — and how — the connection was lost. The
//! writer's `drain` and `wait_closed` wait on it; several tasks may wait at
//! once.

use std::cell::RefCell;
use std::task::{Context, Waker};

#[derive(Debug, Default)]
struct FlowState {
    paused: bool,
    /// How many times `resume_writing` was called: a drain that started
    /// waiting at one count is released by any later one, even if writing
    /// paused again meanwhile (as asyncio wakes every waiter on resume).
    resumes: u64,
    /// `Some` once `connection_lost` was called, with its error.
    lost: Option<Option<loop_transports::Error>>,
    waiters: Vec<Waker>,
}

/// The shared write-flow state of one connection, fed by its protocol.
#[derive(Debug, Default)]
pub(crate) struct Flow {
    st: RefCell<FlowState>,
}

impl Flow {
    pub(crate) fn pause_writing(&self) {
        self.st.borrow_mut().paused = true;
    }

    pub(crate) fn resume_writing(&self) {
        let waiters = {
            let mut st = self.st.borrow_mut();
            st.paused = false;
            st.resumes += 1;
            std::mem::take(&mut st.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn connection_lost(&self, err: Option<loop_transports::Error>) {
        let waiters = {
            let mut st = self.st.borrow_mut();
            if st.lost.is_none() {
                st.lost = Some(err);
            }
            std::mem::take(&mut st.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.st.borrow().paused
    }

    pub(crate) fn resumes(&self) -> u64 {
        self.st.borrow().resumes
    }

    /// `Some(error)` once the connection is lost.
    pub(crate) fn lost(&self) -> Option<Option<loop_transports::Error>> {
        self.st.borrow().lost.clone()
    }

    /// Wakes `cx` at the next resume or loss.
    pub(crate) fn register(&self, cx: &Context<'_>) {
        let mut st = self.st.borrow_mut();
        if !st.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            st.waiters.push(cx.waker().clone());
        }
    }
}
