//! Time as the core sees it: an [`Instant`] the driver hands in.
//!
//! The core never reads a clock. A driver picks an origin (for example the moment it created the
//! connection) and passes the elapsed time since then; only differences between instants matter.

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point in time, measured from an origin that the driver chooses.
///
/// ```
/// use core::time::Duration;
/// use responses_ws_core::Instant;
///
/// let start = Instant::ZERO;
/// let later = start + Duration::from_secs(5);
/// assert_eq!(later - start, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// The instant `elapsed` after the origin.
    ///
    /// ```
    /// # use core::time::Duration;
    /// # use responses_ws_core::Instant;
    /// let at = Instant::from_elapsed(Duration::from_millis(250));
    /// assert_eq!(at, Instant::ZERO + Duration::from_millis(250));
    /// ```
    pub const fn from_elapsed(elapsed: Duration) -> Self {
        Instant(elapsed)
    }

    /// Time elapsed since the origin.
    ///
    /// ```
    /// # use core::time::Duration;
    /// # use responses_ws_core::Instant;
    /// let at = Instant::ZERO + Duration::from_secs(2);
    /// assert_eq!(at.elapsed(), Duration::from_secs(2));
    /// ```
    pub const fn elapsed(self) -> Duration {
        self.0
    }

    /// `self - earlier`, or zero if `earlier` is later.
    ///
    /// ```
    /// # use core::time::Duration;
    /// # use responses_ws_core::Instant;
    /// let (early, late) = (Instant::ZERO, Instant::ZERO + Duration::from_secs(1));
    /// assert_eq!(late.saturating_duration_since(early), Duration::from_secs(1));
    /// assert_eq!(early.saturating_duration_since(late), Duration::ZERO);
    /// ```
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs))
    }
}

impl Sub for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}
