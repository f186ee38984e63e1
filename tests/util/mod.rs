//! Shared helpers for tulip's integration tests.

use std::time::Duration;

/// How long a test waits for an event before failing: generous, so a slow
/// CI machine does not flake, but finite, so a bug fails instead of hanging.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// The workspace README's example, compiled and run as a doctest so it stays
/// true (the published `tulip` crate carries its own README).
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct WorkspaceReadmeDoctests;
