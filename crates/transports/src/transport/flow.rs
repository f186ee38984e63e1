//! Write flow control: high/low water marks and the paired
//! `pause_writing` / `resume_writing` decision.

use crate::error::{Error, Result};

/// Default high-water mark (asyncio's 64 KiB).
pub(crate) const DEFAULT_HIGH_WATER: usize = 64 * 1024;

/// The write buffer's water marks (asyncio returns them as `(low, high)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteBufferLimits {
    /// `resume_writing` is called when the buffer drains to this size or
    /// below.
    pub low: usize,
    /// `pause_writing` is called when the buffer grows strictly over this
    /// size.
    pub high: usize,
}

impl WriteBufferLimits {
    /// asyncio's rules: `high` defaults to 64 KiB (4 × `low` if only `low`
    /// is given), `low` to `high / 4`; `low > high` is an error, so
    /// `high == 0` forces `low == 0`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `low > high`.
    pub fn new(high: Option<usize>, low: Option<usize>) -> Result<Self> {
        let high = match (high, low) {
            (Some(h), _) => h,
            (None, Some(l)) => l.saturating_mul(4),
            (None, None) => DEFAULT_HIGH_WATER,
        };
        let low = low.unwrap_or(high / 4);
        if low > high {
            return Err(Error::invalid(format!(
                "write buffer limits: low ({low}) must not exceed high ({high})"
            )));
        }
        Ok(WriteBufferLimits { low, high })
    }
}

impl Default for WriteBufferLimits {
    fn default() -> Self {
        WriteBufferLimits { low: DEFAULT_HIGH_WATER / 4, high: DEFAULT_HIGH_WATER }
    }
}

/// What the protocol must be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlowSignal {
    Pause,
    Resume,
}

/// The paused/resumed state machine.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FlowControl {
    pub(crate) limits: WriteBufferLimits,
    pub(crate) paused: bool,
}

impl FlowControl {
    /// Given the buffer's size now, the signal to deliver (if any); the
    /// state flips so signals stay paired.
    pub(crate) fn update(&mut self, size: usize) -> Option<FlowSignal> {
        if !self.paused && size > self.limits.high {
            self.paused = true;
            Some(FlowSignal::Pause)
        } else if self.paused && size <= self.limits.low {
            self.paused = false;
            Some(FlowSignal::Resume)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_derived_marks() {
        assert_eq!(WriteBufferLimits::new(None, None).unwrap(), WriteBufferLimits::default());
        assert_eq!(
            WriteBufferLimits::new(Some(100), None).unwrap(),
            WriteBufferLimits { high: 100, low: 25 }
        );
        assert_eq!(
            WriteBufferLimits::new(None, Some(10)).unwrap(),
            WriteBufferLimits { high: 40, low: 10 }
        );
    }

    #[test]
    fn high_zero_forces_low_zero_and_low_over_high_is_an_error() {
        assert_eq!(
            WriteBufferLimits::new(Some(0), None).unwrap(),
            WriteBufferLimits { high: 0, low: 0 }
        );
        assert!(matches!(WriteBufferLimits::new(Some(0), Some(1)), Err(Error::InvalidArgument(_))));
        assert!(matches!(WriteBufferLimits::new(Some(5), Some(6)), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn pause_strictly_over_high_resume_at_or_below_low_paired() {
        let mut fc = FlowControl { limits: WriteBufferLimits { high: 10, low: 4 }, paused: false };
        assert_eq!(fc.update(10), None, "equal to high: no pause");
        assert_eq!(fc.update(11), Some(FlowSignal::Pause));
        assert_eq!(fc.update(50), None, "paused once, not again");
        assert_eq!(fc.update(5), None, "above low: still paused");
        assert_eq!(fc.update(4), Some(FlowSignal::Resume), "at low: resume");
        assert_eq!(fc.update(0), None, "resumed once");
        assert_eq!(fc.update(11), Some(FlowSignal::Pause));
    }

    #[test]
    fn zero_marks_pause_whenever_not_empty() {
        let mut fc =
            FlowControl { limits: WriteBufferLimits::new(Some(0), None).unwrap(), paused: false };
        assert_eq!(fc.update(0), None);
        assert_eq!(fc.update(1), Some(FlowSignal::Pause));
        assert_eq!(fc.update(1), None);
        assert_eq!(fc.update(0), Some(FlowSignal::Resume));
    }
}
