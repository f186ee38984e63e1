//! Per-loop extension slots: state an upper crate keeps per loop, living and
//! dying with it (asyncio's loop owning its child watcher and signal
//! wake-up).

use std::any::{Any, TypeId};
use std::rc::Rc;

use crate::Loop;
use crate::error::{Error, Result};

/// State an upper crate keeps per loop, in one of the loop's extension
/// slots (one slot per type; see [`Loop::extension`]).
///
/// The loop holds the extension until it is removed or the loop closes.
/// At close (or when an unclosed loop is dropped) the loop calls
/// [`on_close`](LoopExtension::on_close) of every extension, most recently
/// added first, on the loop's thread, before it releases its callbacks,
/// timers, fd watches and tasks and closes its driver; then it drops them.
/// Scheduling calls made from `on_close` fail with
/// [`Error::LoopClosed`]: the hook releases what the extension owns
/// outside the loop (OS state, leases), nothing more.
pub trait LoopExtension: Any {
    /// The loop is closing: release what the extension holds outside the
    /// loop. The default does nothing.
    fn on_close(&self) {}
}

/// The slots of one loop, in the order they were filled.
#[derive(Default)]
pub(crate) struct Extensions {
    slots: Vec<(TypeId, Rc<dyn LoopExtension>)>,
}

impl Extensions {
    fn get<T: LoopExtension>(&self) -> Option<Rc<T>> {
        let (_, ext) = self.slots.iter().find(|(id, _)| *id == TypeId::of::<T>())?;
        let any: Rc<dyn Any> = ext.clone();
        any.downcast::<T>().ok()
    }

    fn insert<T: LoopExtension>(&mut self, ext: Rc<T>) -> Option<Rc<T>> {
        let old = self.remove::<T>();
        self.slots.push((TypeId::of::<T>(), ext));
        old
    }

    fn remove<T: LoopExtension>(&mut self) -> Option<Rc<T>> {
        let i = self.slots.iter().position(|(id, _)| *id == TypeId::of::<T>())?;
        let (_, ext) = self.slots.remove(i);
        let any: Rc<dyn Any> = ext;
        any.downcast::<T>().ok()
    }

    /// Empties every slot, most recently filled first (loop close).
    pub(crate) fn take_all(&mut self) -> Vec<Rc<dyn LoopExtension>> {
        self.slots.drain(..).rev().map(|(_, ext)| ext).collect()
    }
}

impl Loop {
    /// The extension of type `T` this loop holds, if any.
    pub fn extension<T: LoopExtension>(&self) -> Option<Rc<T>> {
        self.common().extensions.borrow().get::<T>()
    }

    /// Puts `ext` in the loop's slot for `T`; returns the extension it
    /// replaces (whose `on_close` is not called).
    ///
    /// # Errors
    ///
    /// [`Error::LoopClosed`] after `close`.
    pub fn set_extension<T: LoopExtension>(&self, ext: Rc<T>) -> Result<Option<Rc<T>>> {
        if self.is_closed() {
            return Err(Error::LoopClosed);
        }
        Ok(self.common().extensions.borrow_mut().insert(ext))
    }

    /// Takes the extension of type `T` out of the loop (its `on_close` is
    /// not called).
    pub fn remove_extension<T: LoopExtension>(&self) -> Option<Rc<T>> {
        self.common().extensions.borrow_mut().remove::<T>()
    }

    /// The extension of type `T`, made with `init` and stored if the loop has
    /// none yet. `init` runs with no borrow of the loop held, so it may use
    /// the loop (register fds, schedule callbacks).
    ///
    /// # Errors
    ///
    /// `init`'s error; [`Error::LoopClosed`] (converted) after `close`.
    pub fn extension_or_try_insert_with<T, E>(
        &self,
        init: impl FnOnce() -> std::result::Result<T, E>,
    ) -> std::result::Result<Rc<T>, E>
    where
        T: LoopExtension,
        E: From<Error>,
    {
        if let Some(ext) = self.extension::<T>() {
            return Ok(ext);
        }
        if self.is_closed() {
            return Err(Error::LoopClosed.into());
        }
        let ext = Rc::new(init()?);
        // `init` may itself have filled the slot: the first one stays.
        if let Some(existing) = self.extension::<T>() {
            return Ok(existing);
        }
        self.set_extension(ext.clone())?;
        Ok(ext)
    }
}
