//! Connection attempts over a list of addresses: one after another, or
//! staggered and racing (Happy Eyeballs, RFC 8305), with the address list
//! interleaved by family.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use loop_core::{Loop, Sleep, sleep};
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
                Err(e) => {
                    last = Some(io::Error::new(
                        e.kind(),
                        format!("error while attempting to bind on address {l}: {e}"),
                    ));
                }
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
        ready(&lp, fd.as_raw_fd(), Interest::Write)
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        sys::take_error(fd.as_fd())?;
    }
    Ok(fd)
}

type Attempt = Pin<Box<dyn Future<Output = io::Result<OwnedFd>>>>;

/// Connects to the first address that accepts. With `delay`, a new attempt
/// starts every `delay` (or as soon as the running ones all failed) and the
/// first to succeed wins; the others are dropped (their sockets closed).
/// Without, addresses are tried one at a time.
pub(crate) async fn connect(
    lp: &Loop,
    addrs: &[SocketAddr],
    locals: Option<&[SocketAddr]>,
    delay: Option<Duration>,
) -> Result<OwnedFd, Failures> {
    let mut running: Vec<(SocketAddr, Attempt)> = Vec::new();
    let mut failures: Failures = Vec::new();
    let mut next = 0;
    let mut timer: Option<Pin<Box<Sleep>>> = None;
    poll_fn(|cx| {
        loop {
            let mut start = running.is_empty();
            if let Some(t) = timer.as_mut() {
                if t.as_mut().poll(cx).is_ready() {
                    timer = None;
                    start = true;
                }
            }
            if start && next < addrs.len() {
                let addr = addrs[next];
                next += 1;
                running
                    .push((addr, Box::pin(attempt(lp.clone(), addr, locals.map(<[_]>::to_vec)))));
                timer = match delay {
                    Some(d) if next < addrs.len() => Some(Box::pin(sleep(d))),
                    _ => None,
                };
                continue;
            }
            let mut i = 0;
            while i < running.len() {
                match running[i].1.as_mut().poll(cx) {
                    Poll::Ready(Ok(fd)) => return Poll::Ready(Ok(fd)),
                    Poll::Ready(Err(e)) => {
                        let (addr, _) = running.remove(i);
                        failures.push((Address::Inet(addr), Arc::new(e)));
                    }
                    Poll::Pending => i += 1,
                }
            }
            if running.is_empty() {
                if next >= addrs.len() {
                    return Poll::Ready(Err(std::mem::take(&mut failures)));
                }
                continue;
            }
            return Poll::Pending;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
