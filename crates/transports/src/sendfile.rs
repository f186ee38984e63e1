//! `sendfile` (over a transport) and `sock_sendfile` (over a socket):
//! zero-copy `sendfile(2)`, or a read-and-send fallback when allowed. The
//! file's position ends up after the last byte sent, even on error.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use loop_core::Loop;

use crate::error::{Error, Result};
use crate::readiness::{Interest, ready};
use crate::sock_ops::check_nonblocking;
use crate::sys;
use crate::transport::{FdTransport, TransportRef};

/// Bytes per `sendfile(2)` call / fallback read.
const CHUNK: usize = 256 * 1024;

fn remaining(count: Option<u64>, sent: u64) -> usize {
    match count {
        Some(c) => (c - sent).min(CHUNK as u64) as usize,
        None => CHUNK,
    }
}

/// Native `sendfile(2)` loop on a non-blocking socket. `Ok(None)` when the
/// kernel cannot sendfile between these two fds (nothing was sent).
async fn native(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    file: &File,
    offset: u64,
    count: Option<u64>,
    sent: &mut u64,
) -> Result<Option<()>> {
    loop {
        let want = remaining(count, *sent);
        if want == 0 {
            return Ok(Some(()));
        }
        let mut off = offset + *sent;
        match sys::sendfile(sock, file.as_fd(), &mut off, want) {
            Ok(0) => return Ok(Some(())),
            Ok(n) => *sent += n as u64,
            Err(e) if sys::would_block(&e) => ready(lp, sock.as_raw_fd(), Interest::Write).await?,
            Err(e)
                if *sent == 0
                    && matches!(e.raw_os_error(), Some(c) if c == rustix::io::Errno::INVAL.raw_os_error() || c == rustix::io::Errno::NOSYS.raw_os_error()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn check_file(file: &File) -> Result<()> {
    match sys::regular_file_size(file.as_fd())? {
        Some(_) => Ok(()),
        None => Err(Error::invalid("sendfile needs a regular file")),
    }
}

pub(crate) async fn sock_sendfile(
    lp: &Loop,
    sock: BorrowedFd<'_>,
    file: &File,
    offset: u64,
    count: Option<u64>,
    fallback: bool,
) -> Result<u64> {
    check_nonblocking(sock)?;
    if sys::socket_type(sock)? != rustix::net::SocketType::STREAM {
        return Err(Error::invalid("sock_sendfile needs a SOCK_STREAM socket"));
    }
    check_file(file)?;
    if count == Some(0) {
        return Ok(0);
    }
    let mut sent = 0u64;
    let r = async {
        if native(lp, sock, file, offset, count, &mut sent).await?.is_some() {
            return Ok(());
        }
        if !fallback {
            return Err(Error::SendfileNotAvailable(
                "sendfile(2) cannot send to this socket".into(),
            ));
        }
        let mut buf = vec![0u8; CHUNK];
        loop {
            let want = remaining(count, sent);
            if want == 0 {
                return Ok(());
            }
            let n = sys::pread(file.as_fd(), &mut buf[..want], offset + sent)?;
            if n == 0 {
                return Ok(());
            }
            crate::sock_ops::sock_sendall_raw(lp, sock, &buf[..n]).await?;
            sent += n as u64;
        }
    }
    .await;
    sys::seek_to(file.as_fd(), offset + sent)?;
    r.map(|()| sent)
}

pub(crate) async fn sendfile(
    lp: &Loop,
    transport: &TransportRef,
    file: &File,
    offset: u64,
    count: Option<u64>,
    fallback: bool,
) -> Result<u64> {
    check_file(file)?;
    if transport.is_closing() {
        return Err(Error::Closed);
    }
    let mut sent = 0u64;
    let r = async {
        if let Some(fd_t) = transport.as_any().downcast_ref::<FdTransport>() {
            // Everything written before must go first.
            fd_t.wait_drained().await?;
            let raw = fd_t.with_fd(|fd| fd.as_raw_fd()).ok_or(Error::Closed)?;
            // SAFETY-free borrow: the transport keeps the fd open while we
            // hold a reference to it; re-borrow it for each call.
            let native_ok = loop {
                let want = remaining(count, sent);
                if want == 0 {
                    break true;
                }
                let mut off = offset + sent;
                let r = fd_t
                    .with_fd(|s| sys::sendfile(s, file.as_fd(), &mut off, want))
                    .ok_or(Error::Closed)?;
                match r {
                    Ok(0) => break true,
                    Ok(n) => sent += n as u64,
                    Err(e) if sys::would_block(&e) => ready(lp, raw, Interest::Write).await?,
                    Err(e)
                        if sent == 0
                            && e.raw_os_error()
                                == Some(rustix::io::Errno::INVAL.raw_os_error()) =>
                    {
                        break false;
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            if native_ok {
                return Ok(());
            }
        }
        if !fallback {
            return Err(Error::SendfileNotAvailable(
                "the transport has no socket for sendfile(2)".into(),
            ));
        }
        let mut buf = vec![0u8; CHUNK];
        let high = transport.get_write_buffer_limits().high.max(CHUNK);
        loop {
            let want = remaining(count, sent);
            if want == 0 {
                return Ok(());
            }
            let n = sys::pread(file.as_fd(), &mut buf[..want], offset + sent)?;
            if n == 0 {
                return Ok(());
            }
            transport.write(&buf[..n])?;
            sent += n as u64;
            while transport.get_write_buffer_size() > high {
                if transport.is_closing() {
                    return Err(Error::Closed);
                }
                loop_core::sleep(Duration::from_millis(1)).await?;
            }
        }
    }
    .await;
    sys::seek_to(file.as_fd(), offset + sent)?;
    r.map(|()| sent)
}
