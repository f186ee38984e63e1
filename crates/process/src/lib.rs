//! Subprocess transports and protocols, child watching and the high-level Process.
//!
//! This crate is a placeholder: its API lands in a later issue. It builds on
//! `loop-core`'s public `Loop` handle only.

#![forbid(unsafe_code)]

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
