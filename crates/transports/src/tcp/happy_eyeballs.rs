//! Connection attempts over a list of addresses: one after another, or
//! staggered and racing (Happy Eyeballs, RFC 8305), with the address list
//! interleaved by family.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use loop_core::{Loop, Sleep, sleep_until};
use rustix::net::SocketType;

use crate::address::Address;
use crate::readiness::{Interest, ready};
use crate::sys;

/// Each address that failed, and why.
pub(crate) type Failures = Vec<(Address, Arc<io::Error>)>;

/// Reorders `addrs` by family (asyncio's `_interleave_addrinfos`): the
/// first `first_family_count` addresses of the first family, then one of
/// each family in turn.
pub(crate) fn interleave(addrs: Vec<SocketAddr>, first_family_count: usize) -> Vec<SocketAddr> {
    let mut groups: Vec<Vec<SocketAddr>> = Vec::new();
    for a in addrs {
        match groups.iter_mut().find(|g| g[0].is_ipv4() == a.is_ipv4()) {
            Some(g) => g.push(a),
            None => groups.push(vec![a]),
        }
    }
    let mut out = Vec::new();
    let mut queues: Vec<std::collections::VecDeque<SocketAddr>> =
        groups.into_iter().map(Into::into).collect();
    if let Some(first) = queues.first_mut() {
        let n = first_family_count.saturating_sub(1).min(first.len());
        out.extend(first.drain(..n));
    }
    loop {
        let mut any = false;
        for q in &mut queues {
            if let Some(a) = q.pop_front() {
                out.push(a);
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    out
}

/// One connection attempt: a non-blocking socket, bound to a local address
/// of the same family when `locals` is given, connected to `addr`.
async fn attempt(
    lp: Loop,
    addr: SocketAddr,
    locals: Option<Vec<SocketAddr>>,
) -> io::Result<OwnedFd> {
    let fd = sys::socket(sys::family_of(&addr), SocketType::STREAM)?;
    if let Some(locals) = locals {
        let mut bound = false;
        let mut last = None;
        for l in locals.iter().filter(|l| l.is_ipv4() == addr.is_ipv4()) {
            match sys::bind(fd.as_fd(), &Address::Inet(*l)) {
                Ok(()) => {
                    bound = true;
                    break;
                }
                // Kept as is (errno included); it is reported as this
                // attempt's failure.
                Err(e) => last = Some(e),
            }
        }
        if !bound {
            return Err(last.unwrap_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "no local address of the same family to bind to",
                )
            }));
        }
    }
    if !sys::connect_start(fd.as_fd(), &Address::Inet(addr))? {
        ready(&lp, fd.as_fd(), Interest::Write)
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        sys::take_error(fd.as_fd())?;
    }
    Ok(fd)
}

type Attempt = Pin<Box<dyn Future<Output = io::Result<OwnedFd>>>>;

/// Connects to the first address that accepts. With `delay`, the next
/// attempt starts `delay` after the last one started, or as soon as that
/// one failed (asyncio's `staggered_race`); the first to succeed wins and
/// the others are dropped (their sockets closed). Without, addresses are
/// tried one at a time.
pub(crate) async fn connect(
    lp: &Loop,
    addrs: &[SocketAddr],
    locals: Option<&[SocketAddr]>,
    delay: Option<Duration>,
) -> Result<OwnedFd, Failures> {
    // Each running attempt with its index in `addrs`.
    let mut running: Vec<(usize, Attempt)> = Vec::new();
    let mut failures: Failures = Vec::new();
    let mut next = 0;
    let mut timer: Option<Pin<Box<Sleep>>> = None;
    // The last attempt started has failed: start the next one now.
    let mut kick = false;
    poll_fn(|cx| {
        loop {
            let mut start = running.is_empty() || std::mem::take(&mut kick);
            if let Some(t) = timer.as_mut() {
                if t.as_mut().poll(cx).is_ready() {
                    timer = None;
                    start = true;
                }
            }
            if start && next < addrs.len() {
                let addr = addrs[next];
                next += 1;
                running.push((
                    next - 1,
                    Box::pin(attempt(lp.clone(), addr, locals.map(<[_]>::to_vec))),
                ));
                timer = match delay {
                    // A delay past the end of the clock never ends (`sleep`
                    // would fail at once, which would start the next attempt
                    // at once): the next attempt waits for this one to fail.
                    Some(d) if next < addrs.len() => {
                        lp.time().checked_add(d).map(|at| Box::pin(sleep_until(at)))
                    }
                    _ => None,
                };
                continue;
            }
            let mut i = 0;
            while i < running.len() {
                match running[i].1.as_mut().poll(cx) {
                    Poll::Ready(Ok(fd)) => return Poll::Ready(Ok(fd)),
                    Poll::Ready(Err(e)) => {
                        let (index, _) = running.remove(i);
                        kick |= index + 1 == next;
                        failures.push((Address::Inet(addrs[index]), Arc::new(e)));
                    }
                    Poll::Pending => i += 1,
                }
            }
            if next < addrs.len() && (running.is_empty() || kick) {
                continue;
            }
            if running.is_empty() {
                return Poll::Ready(Err(std::mem::take(&mut failures)));
            }
            kick = false;
            return Poll::Pending;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    use futures_lite::future;
    use loop_core::sleep;
    use loop_core::test_util::open_fd_count;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn interleave_alternates_families() {
        let v6a = a("[::1]:1");
        let v6b = a("[::2]:1");
        let v4a = a("1.0.0.1:1");
        let v4b = a("1.0.0.2:1");
        let v6c = a("[::3]:1");
        let input = vec![v6a, v6b, v6c, v4a, v4b];
        assert_eq!(interleave(input.clone(), 1), vec![v6a, v4a, v6b, v4b, v6c]);
        assert_eq!(interleave(input, 2), vec![v6a, v6b, v4a, v6c, v4b]);
    }

    /// A listener on `ip` whose accept queue is full: further connection
    /// attempts hang (Linux drops their SYNs). The listener and the
    /// connections filling its queue; `None` if `ip` cannot be bound.
    fn full_listener(ip: &str) -> Option<(OwnedFd, SocketAddr, Vec<TcpStream>)> {
        let addr: SocketAddr = SocketAddr::new(ip.parse().unwrap(), 0);
        let l = sys::socket(sys::family_of(&addr), SocketType::STREAM).ok()?;
        sys::bind(l.as_fd(), &Address::Inet(addr)).ok()?;
        sys::listen(l.as_fd(), 0).unwrap();
        let Some(Address::Inet(addr)) = sys::sockname(l.as_fd()) else { panic!("sockname") };
        let mut fillers = Vec::new();
        for _ in 0..8 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => fillers.push(s),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Some((l, addr, fillers)),
                Err(e) => panic!("filling the accept queue: {e}"),
            }
        }
        panic!("connections to a listen(0) socket never hang here");
    }

    /// These tests count fds: one at a time.
    fn serial() -> std::sync::MutexGuard<'static, ()> {
        static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on a new loop with a watchdog that fails the test.
    fn run<T: 'static>(f: impl FnOnce(Loop) -> Pin<Box<dyn Future<Output = T>>>) -> T {
        let lp = Loop::new().unwrap();
        let l2 = lp.clone();
        let watchdog = lp.call_later(Duration::from_secs(10), move || l2.stop()).unwrap();
        let out = lp.run_until_complete(f(lp.clone())).expect("test timed out");
        watchdog.cancel();
        lp.close().unwrap();
        out
    }

    fn peer(fd: &OwnedFd) -> SocketAddr {
        match sys::peername(fd.as_fd()) {
            Some(Address::Inet(a)) => a,
            other => panic!("peer {other:?}"),
        }
    }

    #[test]
    fn the_second_attempt_starts_after_the_delay_and_wins() {
        let _serial = serial();
        if TcpListener::bind("[::1]:0").is_err() {
            println!("skipped: ::1 is not available on this machine");
            return;
        }
        let (_hang, hang_addr, _fillers) = full_listener("::1").expect("::1 binds");
        let good = TcpListener::bind("127.0.0.1:0").unwrap();
        let good_addr = good.local_addr().unwrap();
        // Both families twice; interleaving puts 127.0.0.1 second.
        let addrs = interleave(vec![hang_addr, hang_addr, good_addr], 1);
        assert_eq!(addrs, vec![hang_addr, good_addr, hang_addr]);
        let delay = Duration::from_millis(300);
        let fds = open_fd_count();
        let (fd, elapsed) = run(move |lp| {
            Box::pin(async move {
                let t0 = Instant::now();
                let fd = connect(&lp, &addrs, None, Some(delay)).await.expect("connected");
                (fd, t0.elapsed())
            })
        });
        assert_eq!(peer(&fd), good_addr, "the connection lands on 127.0.0.1");
        assert!(elapsed >= delay, "the second attempt started early: {elapsed:?}");
        // The next attempt (::1 again) would have started at 2 * delay.
        assert!(elapsed < 2 * delay, "the second attempt started late: {elapsed:?}");
        let (accepted, _) = good.accept().unwrap();
        drop((fd, accepted));
        assert_eq!(open_fd_count(), fds, "the losing attempt's socket was closed");
    }

    #[test]
    fn without_a_delay_the_first_address_is_waited_for() {
        let _serial = serial();
        let (_hang, hang_addr, _fillers) = full_listener("127.0.0.1").unwrap();
        let good = TcpListener::bind("127.0.0.1:0").unwrap();
        let addrs = vec![hang_addr, good.local_addr().unwrap()];
        let fds = open_fd_count();
        let outcome = run(move |lp| {
            Box::pin(async move {
                let attempt = async { Some(connect(&lp, &addrs, None, None).await.is_ok()) };
                let timeout = async {
                    sleep(Duration::from_millis(600)).await.unwrap();
                    None
                };
                future::or(attempt, timeout).await
            })
        });
        assert_eq!(outcome, None, "connected without waiting for the first address");
        assert_eq!(open_fd_count(), fds, "the dropped attempt's socket was closed");
    }

    #[test]
    fn a_failed_attempt_starts_the_next_at_once() {
        let _serial = serial();
        let (_hang, hang_addr, _fillers) = full_listener("127.0.0.1").unwrap();
        // Bound but not listening: refused at once.
        let refused = sys::socket(rustix::net::AddressFamily::INET, SocketType::STREAM).unwrap();
        sys::bind(refused.as_fd(), &Address::Inet("127.0.0.1:0".parse().unwrap())).unwrap();
        let Some(Address::Inet(refused_addr)) = sys::sockname(refused.as_fd()) else { panic!() };
        let good = TcpListener::bind("127.0.0.1:0").unwrap();
        let good_addr = good.local_addr().unwrap();
        let addrs = vec![hang_addr, refused_addr, good_addr];
        let delay = Duration::from_millis(500);
        let fds = open_fd_count();
        let (fd, elapsed) = run(move |lp| {
            Box::pin(async move {
                let t0 = Instant::now();
                let fd = connect(&lp, &addrs, None, Some(delay)).await.expect("connected");
                (fd, t0.elapsed())
            })
        });
        assert_eq!(peer(&fd), good_addr);
        // 127.0.0.1:refused starts at `delay` and fails; the next starts
        // then, not a full `delay` later.
        assert!(elapsed >= delay, "{elapsed:?}");
        assert!(elapsed < delay * 17 / 10, "the third attempt waited for its timer: {elapsed:?}");
        drop(fd);
        assert_eq!(open_fd_count(), fds);
    }
}
