//! [`RetryPolicy`]: the limits of retrying and the backoff between attempts.

use core::time::Duration;

/// How often and how soon to try again. Every limit has a default; the defaults follow the
/// official SDKs and codex: 5 attempts, 0.5 s doubling to 8 s with jitter.
///
/// The same numbers bound two things:
///
/// - a **request**: it is sent at most `max_attempts` times (every connection it goes out
///   on counts), then it fails with [`GaveUp`](super::GaveUp);
/// - a **streak of connections** without a completed response: refused upgrades, drops,
///   closes from either side, timeouts. After `max_attempts` of them the client stops
///   reconnecting and every waiting request fails. A successful upgrade does not end the
///   streak; a completed response does.
///
/// ```
/// use core::time::Duration;
/// use responses_ws_core::retry::RetryPolicy;
///
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.max_attempts, 5);
/// // The first retry waits between half and all of 0.5 s, as `random` (0.0..1.0) says.
/// assert_eq!(policy.backoff(1, 0.5), Duration::from_millis(375));
/// // Capped at 8 s.
/// assert_eq!(policy.backoff(10, 1.0), Duration::from_secs(8));
/// // No retries at all:
/// assert_eq!(RetryPolicy::never().max_attempts, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per request and per streak of failed connections, the first included
    /// (default 5; 1 means no retry).
    pub max_attempts: u32,
    /// The delay before the first retry (default 500 ms); each further retry doubles it.
    pub base_delay: Duration,
    /// The longest delay between attempts (default 8 s). A server's `Retry-After` may ask
    /// for longer, up to `max_retry_after`.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured (default 60 s); a server asking for more gets the
    /// request failed instead of a wait.
    pub max_retry_after: Duration,
    /// Total time allowed from the first failure of a streak; past it, no further attempt
    /// starts (default none).
    pub deadline: Option<Duration>,
    /// Further attempts after the server broke the WebSocket protocol (our close 1002, 1007
    /// or 1009): default 1. A broken server is given up on quickly.
    pub protocol_retries: u32,
    /// Whether a request whose response had started (`response.created` seen) is sent again
    /// on the next connection when its connection is lost (default `false`: it fails as
    /// interrupted, because the server may have acted on it). Opt in only when a repeated
    /// response is harmless.
    pub retry_started: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            deadline: None,
            protocol_retries: 1,
            retry_started: false,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry: every failure is final.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            protocol_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The policy with `max_attempts` attempts (at least 1).
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// The delay before retry number `retry` (1 for the first), with `random` in `0.0..1.0`:
    /// "equal jitter", between half and all of `base_delay * 2^(retry - 1)`, capped at
    /// `max_delay`.
    pub fn backoff(&self, retry: u32, random: f64) -> Duration {
        let doublings = retry.saturating_sub(1);
        let full = self
            .base_delay
            .saturating_mul(1u32.checked_shl(doublings).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let random = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.0
        };
        full / 2 + (full / 2).mul_f64(random)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_with_equal_jitter_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let at = |retry, random| policy.backoff(retry, random).as_millis();
        assert_eq!((at(1, 0.0), at(1, 1.0)), (250, 500));
        assert_eq!((at(2, 0.0), at(2, 0.999_999)), (500, 999));
        assert_eq!((at(5, 0.0), at(5, 1.0)), (4_000, 8_000));
        assert_eq!((at(6, 0.0), at(6, 1.0)), (4_000, 8_000), "capped");
        assert_eq!(at(40, 1.0), 8_000, "no overflow");
        assert_eq!(at(1, f64::NAN), 250, "a bad random number is harmless");
    }
}
