//! The fd registry: which reader and writer callback each watched fd has.
//!
//! Indexed by fd number (fds are small, dense integers), so dispatching an
//! event is an array lookup and a reference-count increment.

use std::os::fd::RawFd;
use std::sync::Arc;

use super::epoll::{Epoll, Readiness};
use crate::error::{Error, Result};
use crate::handle::Handle;

/// Reading or writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

#[derive(Default)]
struct FdEntry {
    reader: Option<Handle>,
    writer: Option<Handle>,
}

impl FdEntry {
    fn slot(&mut self, dir: Direction) -> &mut Option<Handle> {
        match dir {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }
}

#[derive(Default)]
pub(crate) struct IoRegistry {
    entries: Vec<Option<FdEntry>>,
}

impl IoRegistry {
    /// Registers `handle` for `fd` in direction `dir`, replacing (and
    /// cancelling) any previous callback.
    pub(crate) fn add(
        &mut self,
        epoll: &Epoll,
        fd: RawFd,
        dir: Direction,
        handle: Handle,
    ) -> Result<()> {
        let invalid = |source: std::io::Error| Error::InvalidFd { fd, source: Arc::new(source) };
        if fd < 0 {
            return Err(invalid(std::io::Error::from_raw_os_error(
                rustix::io::Errno::BADF.raw_os_error(),
            )));
        }
        let idx = fd as usize;
        if self.entries.len() <= idx {
            self.entries.resize_with(idx + 1, || None);
        }
        match &mut self.entries[idx] {
            Some(entry) => {
                let (r, w) = match dir {
                    Direction::Read => (true, entry.writer.is_some()),
                    Direction::Write => (entry.reader.is_some(), true),
                };
                epoll.modify(fd, r, w).map_err(invalid)?;
                if let Some(old) = entry.slot(dir).replace(handle) {
                    old.cancel();
                }
            }
            slot @ None => {
                let dir_read = dir == Direction::Read;
                epoll.add(fd, dir_read, !dir_read).map_err(invalid)?;
                let mut entry = FdEntry::default();
                *entry.slot(dir) = Some(handle);
                *slot = Some(entry);
            }
        }
        Ok(())
    }

    /// Unregisters the callback for `fd` in direction `dir`; returns whether
    /// there was one. The removed callback is cancelled, so a readiness event
    /// already queued for it does not run it.
    pub(crate) fn remove(&mut self, epoll: &Epoll, fd: RawFd, dir: Direction) -> bool {
        let Some(Some(entry)) = usize::try_from(fd).ok().and_then(|i| self.entries.get_mut(i))
        else {
            return false;
        };
        let Some(old) = entry.slot(dir).take() else {
            return false;
        };
        old.cancel();
        match (entry.reader.is_some(), entry.writer.is_some()) {
            (false, false) => {
                epoll.delete(fd);
                self.entries[fd as usize] = None;
            }
            (r, w) => {
                // The fd may already be closed; the entry is gone from the
                // kernel's set then, which is what we want anyway.
                let _ = epoll.modify(fd, r, w);
            }
        }
        true
    }

    /// The callbacks a readiness report makes ready.
    pub(crate) fn dispatch(&self, ev: Readiness, mut push: impl FnMut(Handle)) {
        let Some(Some(entry)) = self.entries.get(ev.fd as usize) else {
            return;
        };
        if ev.readable {
            if let Some(h) = &entry.reader {
                push(h.clone());
            }
        }
        if ev.writable {
            if let Some(h) = &entry.writer {
                push(h.clone());
            }
        }
    }

    /// Number of fds watched.
    pub(crate) fn len(&self) -> usize {
        self.entries.iter().flatten().count()
    }

    /// Unregisters everything (loop close).
    pub(crate) fn clear(&mut self, epoll: &Epoll) {
        for (fd, entry) in self.entries.drain(..).enumerate() {
            if let Some(entry) = entry {
                epoll.delete(fd as RawFd);
                for h in [entry.reader, entry.writer].into_iter().flatten() {
                    h.cancel();
                }
            }
        }
    }
}
