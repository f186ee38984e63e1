//! Protocols and transports: TCP, Unix sockets, UDP, pipes, TLS, socket operations, DNS.
//!
//! This crate is a placeholder: its API lands in a later issue. It builds on
//! `loop-core`'s public `EventLoop` trait only.

#![forbid(unsafe_code)]
