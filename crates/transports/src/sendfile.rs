//! `sendfile` (over a transport) and `sock_sendfile` (over a socket):
//! zero-copy `sendfile(2)`, or a read-and-send fallback when allowed. The
//! file's position ends up after the last byte sent, even on error.
//!
//! As in asyncio, "not available" is decided by the kernel: when the first
//! `sendfile(2)` call fails because this file / destination pair cannot be
//! used (`EINVAL`, `ESPIPE`, `ENOSYS`, `EOPNOTSUPP` — a pipe or a socket as
//! the source, an `O_APPEND` destination, no `sendfile(2)` at all), the
//! result is [`Error::SendfileNotAvailable`], or the fallback when it is
//! allowed. Transports that are not fd-backed always take the fallback.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use loop_core::Loop;
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::readiness::{Interest, ready};
use crate::sock_ops::check_nonblocking;
use crate::sys;
use crate::transport::{FdKind, FdTransport, TransportRef};

/// Bytes per `sendfile(2)` call / fallback read.
const CHUNK: usize = 256 * 1024;

fn remaining(count: Option<u64>, sent: u64) -> usize {
    match count {
        Some(c) => (c - sent).min(CHUNK as u64) as usize,
        None => CHUNK,
    }
}

/// Whether a failed first `sendfile(2)` means "cannot sendfile between
/// these two fds" rather than a real I/O error.
fn not_available(e: &io::Error) -> bool {
    [Errno::INVAL, Errno::SPIPE, Errno::NOSYS, Errno::OPNOTSUPP]
        .iter()
        .any(|c| e.raw_os_error() == Some(c.raw_os_error()))
}

/// Native `sendfile(2)` loop; `call(offset, len)` makes one call on the
/// destination, `writable()` waits until it can take more. `Ok(false)`
/// when the kernel cannot sendfile between these two fds (nothing was
/// sent).
async fn native<W: Future<Output = Result<()>>>(
    mut writable: impl FnMut() -> W,
    mut call: impl FnMut(&mut u64, usize) -> Result<io::Result<usize>>,
    offset: u64,
    count: Option<u64>,
    sent: &mut u64,
) -> Result<bool> {
    loop {
        let want = remaining(count, *sent);
        if want == 0 {
            return Ok(true);
        }
        let mut off = offset + *sent;
        match call(&mut off, want)? {
            Ok(0) => return Ok(true),
            Ok(n) => *sent += n as u64,
            Err(e) if sys::would_block(&e) => writable().await?,
            Err(e) if *sent == 0 && not_available(&e) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The fallback's source: a regular file is read with `pread` at the
/// offset; anything else (a pipe, a socket, a character device) cannot
/// seek and is read from where it is — on the default executor if it is
/// in blocking mode, as asyncio reads files in its fallback.
struct Source<'a> {
    lp: &'a Loop,
    file: &'a File,
    regular: bool,
}

impl<'a> Source<'a> {
    /// Checks the file and, for a file that cannot seek, the offset (which
    /// must then be 0: asyncio's `file.seek(offset)` fails with `ESPIPE`).
    fn new(lp: &'a Loop, file: &'a File) -> Result<Self> {
        let regular = sys::regular_file_size(file.as_fd())?.is_some();
        Ok(Source { lp, file, regular })
    }

    fn check_offset(&self, offset: u64) -> Result<()> {
        if !self.regular && offset != 0 {
            sys::seek_to(self.file.as_fd(), offset)?;
        }
        Ok(())
    }

    async fn read(&self, buf: Vec<u8>, pos: u64) -> Result<(Vec<u8>, usize)> {
        let mut buf = buf;
        if self.regular {
            let n = sys::pread(self.file.as_fd(), &mut buf, pos)?;
            return Ok((buf, n));
        }
        if sys::is_nonblocking(self.file)? {
            loop {
                match sys::read(self.file.as_fd(), &mut buf) {
                    Ok(n) => return Ok((buf, n)),
                    Err(e) if sys::would_block(&e) => {
                        ready(self.lp, self.file.as_fd(), Interest::Read).await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let f = self.file.try_clone()?;
        let (buf, r) = self
            .lp
            .run_in_executor(move || {
                let r = loop {
                    match sys::read(f.as_fd(), &mut buf) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        r => break r,
                    }
                };
                (buf, r)
            })
            .await?;
        Ok((buf, r?))
    }

    /// Leaves the file's position after the last byte sent (a file that
    /// cannot seek has no position).
    fn update_position(&self, pos: u64) -> Result<()> {
        if self.regular {
            sys::seek_to(self.file.as_fd(), pos)?;
        }
        Ok(())
    }
}

/// asyncio's checks (a positive count), and an offset a file can have:
/// offsets are `off_t`, so one above `i64::MAX` names no byte of any file
/// (the kernel's `EINVAL` would read as "sendfile not available").
fn check_params(offset: u64, count: Option<u64>) -> Result<()> {
    if count == Some(0) {
        return Err(Error::invalid("count must be a positive integer (got 0)"));
    }
    if i64::try_from(offset).is_err() {
        return Err(Error::invalid(format!(
            "offset {offset} is beyond the largest file offset ({})",
            i64::MAX
        )));
    }
    Ok(())
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
    check_params(offset, count)?;
    let src = Source::new(lp, file)?;
    let mut sent = 0u64;
    let r = async {
        let call = |off: &mut u64, want| Ok(sys::sendfile(sock, file.as_fd(), off, want));
        let writable = || ready(lp, sock, Interest::Write);
        if native(writable, call, offset, count, &mut sent).await? {
            return Ok(());
        }
        if !fallback {
            return Err(Error::SendfileNotAvailable(
                "sendfile(2) cannot send from this file to this socket".into(),
            ));
        }
        src.check_offset(offset)?;
        let mut buf = Vec::new();
        loop {
            let want = remaining(count, sent);
            if want == 0 {
                return Ok(());
            }
            buf.resize(want, 0);
            let (b, n) = src.read(std::mem::take(&mut buf), offset + sent).await?;
            buf = b;
            if n == 0 {
                return Ok(());
            }
            crate::sock_ops::sock_sendall_raw(lp, sock, &buf[..n]).await?;
            sent += n as u64;
        }
    }
    .await;
    src.update_position(offset + sent)?;
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
    check_params(offset, count)?;
    let src = Source::new(lp, file)?;
    if transport.is_closing() {
        return Err(Error::Closed);
    }
    let fd_t = transport.as_any().downcast_ref::<FdTransport>();
    if fd_t.is_some_and(|t| t.kind == FdKind::ReadPipe) {
        return Err(Error::Unsupported("sendfile to a read pipe"));
    }
    // Until this returns (or is dropped) the transport takes no other
    // data: asyncio's "sendfile is in progress".
    let _busy = fd_t.map(FdTransport::begin_sendfile).transpose()?;
    let mut sent = 0u64;
    let r = async {
        if let Some(fd_t) = fd_t {
            // Everything written before must go first.
            fd_t.wait_drained().await?;
            // The transport may close while we wait (a reset seen by its
            // reader, close(), abort()): borrow its fd afresh for each call,
            // and report why it closed, with the OS error's errno.
            let call = |off: &mut u64, want| {
                if fd_t.is_losing() {
                    return Err(fd_t.lost_error());
                }
                fd_t.with_fd(|s| sys::sendfile(s, file.as_fd(), off, want))
                    .ok_or_else(|| fd_t.lost_error())
            };
            if native(|| fd_t.wait_writable(), call, offset, count, &mut sent).await? {
                return Ok(());
            }
        }
        if !fallback {
            return Err(Error::SendfileNotAvailable(if fd_t.is_some() {
                "sendfile(2) cannot send from this file to this transport".into()
            } else {
                "the transport has no file descriptor for sendfile(2)".into()
            }));
        }
        src.check_offset(offset)?;
        let high = transport.get_write_buffer_limits().high.max(CHUNK);
        let mut buf = Vec::new();
        loop {
            let want = remaining(count, sent);
            if want == 0 {
                return Ok(());
            }
            buf.resize(want, 0);
            let (b, n) = src.read(std::mem::take(&mut buf), offset + sent).await?;
            buf = b;
            if n == 0 {
                return Ok(());
            }
            match fd_t {
                Some(fd_t) => fd_t.write_for_sendfile(&buf[..n])?,
                None => transport.write(&buf[..n])?,
            }
            sent += n as u64;
            while transport.get_write_buffer_size() > high {
                if transport.is_closing() {
                    return Err(fd_t.map_or(Error::Closed, FdTransport::lost_error));
                }
                loop_core::sleep(Duration::from_millis(1)).await?;
            }
        }
    }
    .await;
    src.update_position(offset + sent)?;
    r.map(|()| sent)
}
