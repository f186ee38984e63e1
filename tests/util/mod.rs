//! Shared helpers for tulip's integration tests.

use std::time::Duration;

/// How long a test waits for an event before failing: generous, so a slow
/// CI machine does not flake, but finite, so a bug fails instead of hanging.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);
