//! Single-thread async synchronization primitives with asyncio semantics.

#![forbid(unsafe_code)]
