//! `Server`: listening sockets that accept connections into transports
//! (asyncio's `Server` returned by `create_server` / `create_unix_server`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::{Future, poll_fn};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use loop_core::{ExceptionContext, Loop};
use rustix::io::Errno;

use crate::address::Address;
use crate::error::{Error, Result, panic_message};
use crate::protocol::StreamProtocolRef;
use crate::sys;
use crate::transport::{BaseTransport, FdKind, FdTransport, StartOptions, WriteTransport};

/// How long accepting pauses after running out of fds or memory (asyncio's
/// `ACCEPT_RETRY_DELAY`).
pub const ACCEPT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Makes the protocol of each accepted connection.
pub(crate) type ProtocolFactory = Rc<dyn Fn() -> Result<StreamProtocolRef>>;

struct Listener {
    fd: OwnedFd,
    addr: Option<Address>,
    watched: Cell<bool>,
}

/// A Unix socket file the server created, removed on close if it is still
/// the same file.
pub(crate) struct OwnedPath {
    pub(crate) path: PathBuf,
    pub(crate) ino: u64,
    pub(crate) dev: u64,
}

struct Inner {
    lp: Loop,
    me: Weak<Inner>,
    listeners: RefCell<Option<Vec<Listener>>>,
    factory: ProtocolFactory,
    backlog: u32,
    nodelay: bool,
    serving: Cell<bool>,
    serving_forever: Cell<bool>,
    /// The connections accepted and not yet lost, by a per-server number
    /// (asyncio's `_clients` weak set): weak, so the server keeps no
    /// transport alive.
    clients: RefCell<HashMap<u64, Weak<FdTransport>>>,
    next_client: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
    unix_path: RefCell<Option<OwnedPath>>,
}

/// A listening server (asyncio's `Server`).
///
/// Made by [`create_server`](crate::NetExt::create_server) and
/// [`create_unix_server`](crate::NetExt::create_unix_server). Cheap to
/// clone; clones share the server. The loop keeps a serving server alive:
/// dropping every handle does not stop it — call [`close`](Server::close)
/// (or use [`scoped`](Server::scoped)).
#[derive(Clone)]
pub struct Server {
    inner: Rc<Inner>,
}

impl Server {
    pub(crate) fn new(
        lp: &Loop,
        sockets: Vec<OwnedFd>,
        factory: ProtocolFactory,
        backlog: u32,
        nodelay: bool,
        unix_path: Option<OwnedPath>,
    ) -> Server {
        let listeners = sockets
            .into_iter()
            .map(|fd| Listener { addr: sys::sockname(fd.as_fd()), fd, watched: Cell::new(false) })
            .collect();
        Server {
            inner: Rc::new_cyclic(|me| Inner {
                lp: lp.clone(),
                me: me.clone(),
                listeners: RefCell::new(Some(listeners)),
                factory,
                backlog: backlog.max(1),
                nodelay,
                serving: Cell::new(false),
                serving_forever: Cell::new(false),
                clients: RefCell::new(HashMap::new()),
                next_client: Cell::new(0),
                waiters: RefCell::new(Vec::new()),
                unix_path: RefCell::new(unix_path),
            }),
        }
    }

    /// The loop the server runs on (asyncio's `get_loop`).
    pub fn get_loop(&self) -> Loop {
        self.inner.lp.clone()
    }

    /// Whether the server is accepting connections.
    pub fn is_serving(&self) -> bool {
        self.inner.serving.get()
    }

    /// Whether [`close`](Server::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.listeners.borrow().is_none()
    }

    /// The listening sockets' fds (empty once closed). They stay owned by
    /// the server.
    pub fn sockets(&self) -> Vec<RawFd> {
        self.inner
            .listeners
            .borrow()
            .as_ref()
            .map(|ls| ls.iter().map(|l| l.fd.as_raw_fd()).collect())
            .unwrap_or_default()
    }

    /// The addresses the server listens on (empty once closed).
    pub fn addresses(&self) -> Vec<Address> {
        self.inner
            .listeners
            .borrow()
            .as_ref()
            .map(|ls| ls.iter().filter_map(|l| l.addr.clone()).collect())
            .unwrap_or_default()
    }

    /// Connections accepted by this server and not yet closed.
    pub fn active_connections(&self) -> usize {
        self.inner.clients.borrow().len()
    }

    /// Starts accepting connections. Idempotent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] once the server is closed;
    /// [`Error::Loop`] when the loop refuses to watch a socket.
    ///
    /// # Cancel safety
    ///
    /// Completes without waiting; cancel-safe.
    pub async fn start_serving(&self) -> Result<()> {
        self.inner.start_serving()
    }

    /// Accepts connections until the server is closed; returns `Ok(())`
    /// then. Only one `serve_forever` may run at a time.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] when another `serve_forever` is running or
    /// the server is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancelling it (dropping the future, or cancelling its task) closes
    /// the server, as in asyncio.
    pub async fn serve_forever(&self) -> Result<()> {
        if self.inner.serving_forever.get() {
            return Err(Error::InvalidState("serve_forever() is already running".into()));
        }
        self.inner.start_serving()?;
        self.inner.serving_forever.set(true);
        struct Guard<'a>(&'a Server);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                self.0.inner.serving_forever.set(false);
                self.0.close();
            }
        }
        let _guard = Guard(self);
        poll_fn(|cx| {
            if self.is_closed() {
                return Poll::Ready(());
            }
            self.inner.add_waiter(cx.waker());
            Poll::Pending
        })
        .await;
        Ok(())
    }

    /// Stops serving: closes the listening sockets. Connections already
    /// accepted stay open. Idempotent.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Closes every connection this server accepted that is still open
    /// (asyncio 3.13's `close_clients`): each transport's `close()` — its
    /// buffered data is sent, then its protocol gets `connection_lost(None)`.
    /// The server keeps listening; [`close`](Server::close) stops that.
    pub fn close_clients(&self) {
        for t in self.inner.live_clients() {
            t.close();
        }
    }

    /// Aborts every connection this server accepted that is still open
    /// (asyncio 3.13's `abort_clients`): each transport's `abort()` —
    /// buffered data is dropped, and its protocol gets
    /// `connection_lost(None)`. The server keeps listening.
    pub fn abort_clients(&self) {
        for t in self.inner.live_clients() {
            t.abort();
        }
    }

    /// Resolves once the server is closed and every connection it accepted
    /// has been closed too.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn wait_closed(&self) {
        poll_fn(|cx| {
            if self.is_closed() && self.inner.clients.borrow().is_empty() {
                return Poll::Ready(());
            }
            self.inner.add_waiter(cx.waker());
            Poll::Pending
        })
        .await;
    }

    /// Runs `f` with the server, then closes the server (asyncio's
    /// `async with server:`). The server is closed even if the returned
    /// future is dropped early; connections stay open.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the server.
    pub async fn scoped<F, Fut, T>(&self, f: F) -> T
    where
        F: FnOnce(Server) -> Fut,
        Fut: Future<Output = T>,
    {
        struct CloseOnDrop(Server);
        impl Drop for CloseOnDrop {
            fn drop(&mut self) {
                self.0.close();
            }
        }
        let _guard = CloseOnDrop(self.clone());
        f(self.clone()).await
    }
}

impl Inner {
    fn add_waiter(&self, w: &Waker) {
        let mut ws = self.waiters.borrow_mut();
        if !ws.iter().any(|x| x.will_wake(w)) {
            ws.push(w.clone());
        }
    }

    fn wake_all(&self) {
        let ws = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in ws {
            w.wake();
        }
    }

    fn start_serving(&self) -> Result<()> {
        if self.listeners.borrow().is_none() {
            return Err(Error::InvalidState("the server is closed".into()));
        }
        if self.serving.replace(true) {
            return Ok(());
        }
        let n = self.listeners.borrow().as_ref().map_or(0, Vec::len);
        for i in 0..n {
            self.watch(i)?;
        }
        Ok(())
    }

    /// Registers the accept callback of listener `i`.
    fn watch(&self, i: usize) -> Result<()> {
        let Some(me) = self.me.upgrade() else { return Ok(()) };
        let ls = self.listeners.borrow();
        let Some(l) = ls.as_ref().and_then(|ls| ls.get(i)) else { return Ok(()) };
        if l.watched.get() {
            return Ok(());
        }
        self.lp.add_reader(&l.fd, move || me.accept(i))?;
        l.watched.set(true);
        Ok(())
    }

    fn unwatch(&self, i: usize) {
        let ls = self.listeners.borrow();
        if let Some(l) = ls.as_ref().and_then(|ls| ls.get(i)) {
            if l.watched.replace(false) {
                let _ = self.lp.remove_reader(&l.fd);
            }
        }
    }

    /// The accept callback: up to `backlog` connections per event.
    fn accept(&self, i: usize) {
        for _ in 0..self.backlog {
            let r = {
                let ls = self.listeners.borrow();
                let Some(l) = ls.as_ref().and_then(|ls| ls.get(i)) else { return };
                sys::accept(l.fd.as_fd())
            };
            match r {
                Ok((conn, _)) => self.connection(conn),
                Err(Errno::AGAIN) => return,
                Err(Errno::INTR | Errno::CONNABORTED) => continue,
                Err(e @ (Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)) => {
                    // Out of resources: stop accepting on this socket for a
                    // while instead of spinning on a readable listener.
                    self.report("socket.accept() out of system resource", e.into());
                    self.unwatch(i);
                    let me = self.me.clone();
                    let _ = self.lp.call_later(ACCEPT_RETRY_DELAY, move || {
                        if let Some(me) = me.upgrade() {
                            if me.serving.get() {
                                let _ = me.watch(i);
                            }
                        }
                    });
                    return;
                }
                Err(e) => {
                    self.report("Error on accepting a connection", e.into());
                    return;
                }
            }
        }
    }

    fn report(&self, message: &str, err: Error) {
        let mut ctx = ExceptionContext::new(message).with_error(err.into());
        if let Some(a) = self.listeners.borrow().as_ref().and_then(|ls| ls.first()) {
            ctx = ctx.with_socket(format!(
                "listening socket fd={} on {:?}",
                a.fd.as_raw_fd(),
                a.addr
            ));
        }
        self.lp.call_exception_handler(ctx);
    }

    /// Wraps an accepted socket in a transport with a new protocol.
    fn connection(&self, conn: OwnedFd) {
        if self.nodelay && crate::tcp::connect::is_inet(&conn) {
            let _ = sys::set_nodelay(conn.as_fd(), true);
        }
        let proto = match catch_unwind(AssertUnwindSafe(|| (self.factory)())) {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                self.report("Cannot make the protocol of an accepted connection", e);
                return;
            }
            Err(payload) => {
                let err = Error::ProtocolPanicked {
                    callback: "protocol_factory",
                    message: panic_message(&*payload),
                };
                self.report("Error in the protocol factory of a server", err);
                return;
            }
        };
        let t = FdTransport::new(&self.lp, conn, FdKind::Socket, proto);
        let id = self.next_client.get();
        self.next_client.set(id + 1);
        self.clients.borrow_mut().insert(id, Rc::downgrade(&t));
        let me = self.me.clone();
        let on_lost = Box::new(move || {
            if let Some(me) = me.upgrade() {
                me.detach(id);
            }
        });
        if let Err(e) = t.start(StartOptions { waiter: None, on_lost: Some(on_lost) }) {
            self.report("Cannot start the transport of an accepted connection", e);
        }
    }

    fn detach(&self, id: u64) {
        let empty = {
            let mut clients = self.clients.borrow_mut();
            clients.remove(&id);
            clients.is_empty()
        };
        if empty && self.listeners.borrow().is_none() {
            self.wake_all();
        }
    }

    /// The connections still open, collected first: closing one never
    /// calls back into the server synchronously, but the list must not be
    /// borrowed while transports run.
    fn live_clients(&self) -> Vec<Rc<FdTransport>> {
        self.clients.borrow().values().filter_map(Weak::upgrade).collect()
    }

    fn close(&self) {
        let n = self.listeners.borrow().as_ref().map_or(0, Vec::len);
        if n == 0 && self.listeners.borrow().is_none() {
            return;
        }
        for i in 0..n {
            self.unwatch(i);
        }
        let listeners = self.listeners.borrow_mut().take();
        self.serving.set(false);
        if let Some(owned) = self.unix_path.borrow_mut().take() {
            crate::unix::remove_if_same(&owned);
        }
        drop(listeners);
        self.wake_all();
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addresses", &self.addresses())
            .field("serving", &self.is_serving())
            .field("active", &self.active_connections())
            .finish()
    }
}
