//! The fd registry: which reader and writer callback each watched fd has.
//!
//! Indexed by fd number (fds are small, dense integers), so dispatching an
//! event is an array lookup and a reference-count increment.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Arc;

use crate::driver::{Driver, Event, Interest};
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
        driver: &mut dyn Driver,
        fd: BorrowedFd<'_>,
        dir: Direction,
        handle: Handle,
    ) -> Result<()> {
        let raw = fd.as_raw_fd();
        let invalid =
            |source: std::io::Error| Error::InvalidFd { fd: raw, source: Arc::new(source) };
        // A `BorrowedFd` is never negative.
        let idx = raw as usize;
        if self.entries.len() <= idx {
            self.entries.resize_with(idx + 1, || None);
        }
        match &mut self.entries[idx] {
            Some(entry) => {
                let (r, w) = match dir {
                    Direction::Read => (true, entry.writer.is_some()),
                    Direction::Write => (entry.reader.is_some(), true),
                };
                driver.reregister(fd, Interest::new(r, w)).map_err(invalid)?;
                if let Some(old) = entry.slot(dir).replace(handle) {
                    old.cancel();
                }
            }
            slot @ None => {
                let dir_read = dir == Direction::Read;
                driver.register(fd, Interest::new(dir_read, !dir_read)).map_err(invalid)?;
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
    pub(crate) fn remove(
        &mut self,
        driver: &mut dyn Driver,
        fd: BorrowedFd<'_>,
        dir: Direction,
    ) -> bool {
        let idx = fd.as_raw_fd() as usize;
        let Some(Some(entry)) = self.entries.get_mut(idx) else {
            return false;
        };
        let Some(old) = entry.slot(dir).take() else {
            return false;
        };
        old.cancel();
        match (entry.reader.is_some(), entry.writer.is_some()) {
            (false, false) => {
                // Refused only for an fd the driver no longer watches.
                let _ = driver.deregister(fd);
                self.entries[idx] = None;
            }
            (r, w) => {
                let _ = driver.reregister(fd, Interest::new(r, w));
            }
        }
        true
    }

    /// The callbacks a readiness report makes ready.
    pub(crate) fn dispatch(&self, ev: &Event, mut push: impl FnMut(Handle)) {
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

    /// Forgets everything (loop close, after the driver closed), cancelling
    /// every callback.
    pub(crate) fn clear(&mut self) {
        for entry in self.entries.drain(..).flatten() {
            for h in [entry.reader, entry.writer].into_iter().flatten() {
                h.cancel();
            }
        }
    }
}
