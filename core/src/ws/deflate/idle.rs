//! When a quiet connection gives its compression state back
//! ([`DeflateConfig::release_after`](super::DeflateConfig::release_after)): [`IdleRelease`], a
//! timer that every data message sent or received restarts. A busy connection keeps its
//! compressor and its inflater from message to message; only one that stayed quiet for the
//! whole delay frees them, to build them again at its next message.
//!
//! The core reads no clock. A message received is dated when the driver reported its bytes
//! (the input's time); a message is sent in a call that is given no time, so a send is noted
//! and dated at the next time the driver reports (an input or a timeout): never earlier than
//! it happened, so that a connection waking up from a long quiet does not free the compressor
//! it has just built.

use crate::time::Instant;
use core::time::Duration;

/// The release timer of one connection's compression state.
#[derive(Debug, Clone)]
pub(crate) struct IdleRelease {
    /// The quiet time before a release; `None`: never.
    after: Option<Duration>,
    /// A reported time at or after the last use but an undated send.
    used_at: Instant,
    /// A message was sent since the driver last reported the time.
    undated: bool,
}

impl IdleRelease {
    /// A timer releasing after `after` of quiet (`None`: never), started at `now`.
    pub(crate) fn new(after: Option<Duration>, now: Instant) -> IdleRelease {
        IdleRelease {
            after,
            used_at: now,
            undated: false,
        }
    }

    /// A data message was sent, at some time after the last one reported.
    pub(crate) fn sent(&mut self) {
        self.undated = true;
    }

    /// A data message arrived in input the driver reported at `at`.
    pub(crate) fn received(&mut self, at: Instant) {
        self.used_at = self.used_at.max(at);
    }

    /// The driver reports that time has reached `now`: a use noted since is dated `now`.
    pub(crate) fn tick(&mut self, now: Instant) {
        if self.undated {
            self.used_at = self.used_at.max(now);
            self.undated = false;
        }
    }

    /// When the state goes if nothing uses it first, `now` being the latest time reported.
    pub(crate) fn deadline(&self, now: Instant) -> Option<Instant> {
        let since = if self.undated {
            now.max(self.used_at)
        } else {
            self.used_at
        };
        self.after.map(|after| since + after)
    }

    /// Time has reached `now`: whether the state is to be released. A `true` restarts the
    /// timer, so that state that cannot go yet (a message in progress) is tried again one
    /// delay later instead of at every call.
    pub(crate) fn fire(&mut self, now: Instant) -> bool {
        self.tick(now);
        let due = self.deadline(now).is_some_and(|at| at <= now);
        if due {
            self.used_at = now;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_use_restarts_the_delay_from_the_next_reported_time() {
        let t0 = Instant::ZERO;
        let mut timer = IdleRelease::new(Some(5 * SECOND), t0);
        assert_eq!(timer.deadline(t0), Some(t0 + 5 * SECOND));
        // Sent at some moment after t0 + 4 s, which the driver reports at t0 + 6 s.
        timer.tick(t0 + 4 * SECOND);
        timer.sent();
        assert_eq!(timer.deadline(t0 + 4 * SECOND), Some(t0 + 9 * SECOND));
        assert!(!timer.fire(t0 + 6 * SECOND), "dated at 6 s, not 4 s");
        assert_eq!(timer.deadline(t0 + 6 * SECOND), Some(t0 + 11 * SECOND));
        assert!(!timer.fire(t0 + 10 * SECOND));
        assert!(timer.fire(t0 + 11 * SECOND));
        // Fired: the next attempt, if the state could not go, is one delay later.
        assert_eq!(timer.deadline(t0 + 11 * SECOND), Some(t0 + 16 * SECOND));
        assert!(!timer.fire(t0 + 12 * SECOND));
        // A message that arrived with the input of t0 + 13 s, taken later.
        timer.tick(t0 + 13 * SECOND);
        timer.received(t0 + 13 * SECOND);
        assert_eq!(timer.deadline(t0 + 13 * SECOND), Some(t0 + 18 * SECOND));
        assert!(timer.fire(t0 + 18 * SECOND));
    }

    #[test]
    fn without_a_delay_nothing_is_released() {
        let mut timer = IdleRelease::new(None, Instant::ZERO);
        assert_eq!(timer.deadline(Instant::ZERO), None);
        assert!(!timer.fire(Instant::ZERO + Duration::MAX));
    }
}
