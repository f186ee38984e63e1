//! TCP: connecting (with Happy Eyeballs) and serving.

pub(crate) mod connect;
pub(crate) mod happy_eyeballs;
pub(crate) mod listen;
pub(crate) mod server;
