//! The fd registry: which reader and writer callback each watched fd has.
//!
//! Indexed by fd number (fds are small, dense integers), so dispatching an
//! event is an array lookup and a reference-count increment.
//!
//! Each callback is level-triggered (asyncio's `add_reader`) or
//! edge-triggered (it consumes readiness itself). An fd is registered with
//! the driver as edge-triggered only while every callback it has is: an
//! edge callback must tolerate level reports (spurious calls), so mixing
//! falls back to level.

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

/// One direction's callback and whether it is edge-triggered.
struct Watch {
    handle: Handle,
    edge: bool,
}

#[derive(Default)]
struct FdEntry {
    reader: Option<Watch>,
    writer: Option<Watch>,
}

impl FdEntry {
    fn slot(&mut self, dir: Direction) -> &mut Option<Watch> {
        match dir {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }

    /// What the driver must watch for this entry.
    fn interest(&self) -> Interest {
        let edge = |w: &Option<Watch>| w.as_ref().is_none_or(|w| w.edge);
        Interest::new(self.reader.is_some(), self.writer.is_some())
            .with_edge(edge(&self.reader) && edge(&self.writer))
    }
}

#[derive(Default)]
pub(crate) struct IoRegistry {
    entries: Vec<Option<FdEntry>>,
}

impl IoRegistry {
    /// Registers `handle` for `fd` in direction `dir` (edge-triggered if
    /// `edge`), replacing (and cancelling) any previous callback.
    pub(crate) fn add(
        &mut self,
        driver: &mut dyn Driver,
        fd: BorrowedFd<'_>,
        dir: Direction,
        handle: Handle,
        edge: bool,
    ) -> Result<()> {
        let raw = fd.as_raw_fd();
        let invalid =
            |source: std::io::Error| Error::InvalidFd { fd: raw, source: Arc::new(source) };
        // A `BorrowedFd` is never negative.
        let idx = raw as usize;
        if self.entries.len() <= idx {
            self.entries.resize_with(idx + 1, || None);
        }
        let watch = Watch { handle, edge };
        match &mut self.entries[idx] {
            Some(entry) => {
                let old = entry.slot(dir).replace(watch);
                if let Err(e) = driver.reregister(fd, entry.interest()) {
                    // Refused: the entry stays as it was.
                    *entry.slot(dir) = old;
                    return Err(invalid(e));
                }
                if let Some(old) = old {
                    old.handle.cancel();
                }
            }
            slot @ None => {
                let mut entry = FdEntry::default();
                *entry.slot(dir) = Some(watch);
                driver.register(fd, entry.interest()).map_err(invalid)?;
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
        old.handle.cancel();
        if entry.reader.is_none() && entry.writer.is_none() {
            // Refused only for an fd the driver no longer watches.
            let _ = driver.deregister(fd);
            self.entries[idx] = None;
        } else {
            let _ = driver.reregister(fd, entry.interest());
        }
        true
    }

    /// The callbacks a readiness report makes ready.
    pub(crate) fn dispatch(&self, ev: &Event, mut push: impl FnMut(Handle)) {
        let Some(Some(entry)) = self.entries.get(ev.fd as usize) else {
            return;
        };
        if ev.readable {
            if let Some(w) = &entry.reader {
                push(w.handle.clone());
            }
        }
        if ev.writable {
            if let Some(w) = &entry.writer {
                push(w.handle.clone());
            }
        }
    }

    /// Forgets everything (loop close, after the driver closed), cancelling
    /// every callback.
    pub(crate) fn clear(&mut self) {
        for entry in self.entries.drain(..).flatten() {
            for w in [entry.reader, entry.writer].into_iter().flatten() {
                w.handle.cancel();
            }
        }
    }
}
