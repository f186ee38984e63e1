//! Waiting for a file descriptor to become readable or writable, as a
//! future (what the `sock_*` operations and connection attempts await).

use std::cell::RefCell;
use std::future::Future;
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use loop_core::Loop;

use crate::error::Result;

/// Which readiness to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
}

#[derive(Default)]
struct Shared {
    fired: bool,
    waker: Option<Waker>,
}

/// Resolves once `fd` is ready; unregisters itself when done or dropped.
pub(crate) struct Ready<'a> {
    lp: Loop,
    fd: BorrowedFd<'a>,
    interest: Interest,
    shared: Rc<RefCell<Shared>>,
    registered: bool,
}

/// Waits until `fd` is ready for `interest`.
pub(crate) fn ready<'a>(lp: &Loop, fd: BorrowedFd<'a>, interest: Interest) -> Ready<'a> {
    Ready { lp: lp.clone(), fd, interest, shared: Rc::default(), registered: false }
}

impl Ready<'_> {
    fn unregister(&mut self) {
        if std::mem::take(&mut self.registered) {
            let _ = match self.interest {
                Interest::Read => self.lp.remove_reader(self.fd),
                Interest::Write => self.lp.remove_writer(self.fd),
            };
        }
    }
}

impl Future for Ready<'_> {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        {
            let mut s = this.shared.borrow_mut();
            if s.fired {
                drop(s);
                this.unregister();
                return Poll::Ready(Ok(()));
            }
            s.waker = Some(cx.waker().clone());
        }
        if !this.registered {
            let shared = this.shared.clone();
            let cb = move || {
                let mut s = shared.borrow_mut();
                s.fired = true;
                if let Some(w) = s.waker.take() {
                    w.wake();
                }
            };
            let r = match this.interest {
                Interest::Read => this.lp.add_reader(this.fd, cb),
                Interest::Write => this.lp.add_writer(this.fd, cb),
            };
            if let Err(e) = r {
                return Poll::Ready(Err(e.into()));
            }
            this.registered = true;
        }
        Poll::Pending
    }
}

impl Drop for Ready<'_> {
    fn drop(&mut self) {
        self.unregister();
    }
}
