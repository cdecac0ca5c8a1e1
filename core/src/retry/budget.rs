//! [`Budget`]: the streak of failed connections since the last completed response, and the
//! [`Verdict`] on each failure — another attempt after a delay, or the end.

use core::time::Duration;

use super::failure::{Failure, FailureClass};
use super::policy::RetryPolicy;
use crate::time::Instant;

/// What to do after a failure.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Verdict {
    /// Try again after `delay`.
    Retry {
        /// The attempt this will be within the streak (2 for the first retry).
        attempt: u32,
        /// How long to wait first.
        delay: Duration,
        /// Fetch fresh credentials before the attempt (after a 401, once).
        refresh_credentials: bool,
    },
    /// Stop: `attempts` connections of the streak failed, the last with `cause`.
    GiveUp {
        /// The last failure.
        cause: Failure,
        /// Failed attempts in the streak.
        attempts: u32,
    },
}

impl Verdict {
    /// A new connection right away, spending nothing: the session rotates a connection that
    /// reached its age.
    pub fn planned() -> Self {
        Verdict::Retry {
            attempt: 1,
            delay: Duration::ZERO,
            refresh_credentials: false,
        }
    }
}

/// The connection budget of a client: failed connections in a row, counted until a response
/// completes (a successful upgrade does not reset it), judged against a [`RetryPolicy`].
///
/// ```
/// use core::time::Duration;
/// use responses_ws_core::retry::{Budget, Failure, RetryPolicy, Verdict};
/// use responses_ws_core::Instant;
///
/// let mut budget = Budget::new(RetryPolicy::default().with_max_attempts(2));
/// let first = budget.failed(Failure::Dropped, Instant::ZERO);
/// assert!(matches!(first, Verdict::Retry { attempt: 2, .. }));
/// let second = budget.failed(Failure::Dropped, Instant::ZERO + Duration::from_secs(1));
/// assert!(matches!(second, Verdict::GiveUp { attempts: 2, .. }));
/// budget.succeeded(); // a response completed: a new streak starts
/// assert_eq!(budget.failures(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct Budget {
    policy: RetryPolicy,
    /// Failed connections since the last completed response.
    failures: u32,
    /// Of those, the ones where the server broke the protocol.
    protocol_failures: u32,
    /// When the streak's first failure happened.
    since: Option<Instant>,
    /// Whether fresh credentials can be asked for after a 401.
    refreshable: bool,
    /// Whether they were asked for in this streak.
    refreshed: bool,
    /// Jitter source: xorshift state, mixed with the randomness of every connection.
    jitter: u64,
}

impl Budget {
    /// A full budget under `policy`.
    pub fn new(policy: RetryPolicy) -> Self {
        Budget {
            policy,
            failures: 0,
            protocol_failures: 0,
            since: None,
            refreshable: false,
            refreshed: false,
            jitter: 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Whether a 401 may be answered by fetching fresh credentials once per streak (the
    /// adapter has a credentials callback).
    pub fn set_refreshable(&mut self, refreshable: bool) {
        self.refreshable = refreshable;
    }

    /// Mixes caller-supplied random bytes into the jitter (the client passes each
    /// connection's seed).
    pub fn mix_randomness(&mut self, seed: &[u8]) {
        for chunk in seed.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.jitter ^= u64::from_le_bytes(word);
            self.next_jitter();
        }
        if self.jitter == 0 {
            self.jitter = 0x9e37_79b9_7f4a_7c15;
        }
    }

    /// Failed connections in the current streak.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A response completed: the streak is over and the budget full again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.protocol_failures = 0;
        self.since = None;
        self.refreshed = false;
    }

    /// A connection (or an attempt to open one) failed at `now` with `cause`.
    pub fn failed(&mut self, cause: Failure, now: Instant) -> Verdict {
        self.failures = self.failures.saturating_add(1);
        let since = *self.since.get_or_insert(now);
        let attempts = self.failures;
        let give_up = |cause| Verdict::GiveUp { cause, attempts };
        let mut refresh_credentials = false;
        match cause.class() {
            FailureClass::Final => return give_up(cause),
            FailureClass::Credentials if !self.refreshable || self.refreshed => {
                return give_up(cause)
            }
            FailureClass::Credentials => {
                self.refreshed = true;
                refresh_credentials = true;
            }
            FailureClass::Protocol => {
                self.protocol_failures += 1;
                if self.protocol_failures > self.policy.protocol_retries {
                    return give_up(cause);
                }
            }
            _ => {}
        }
        if self.failures >= self.policy.max_attempts {
            return give_up(cause);
        }
        let random = self.next_unit();
        let mut delay = if refresh_credentials {
            Duration::ZERO
        } else {
            self.policy.backoff(self.failures, random)
        };
        if let Some(asked) = cause.retry_after() {
            if asked > self.policy.max_retry_after {
                return give_up(cause);
            }
            delay = delay.max(asked);
        }
        if let Some(deadline) = self.policy.deadline {
            if now + delay >= since + deadline {
                return give_up(cause);
            }
        }
        Verdict::Retry {
            attempt: self.failures + 1,
            delay,
            refresh_credentials,
        }
    }

    fn next_jitter(&mut self) -> u64 {
        // xorshift64*: plenty for spreading retries; not for anything secret.
        let mut x = self.jitter;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.jitter = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0.0..1.0`.
    fn next_unit(&mut self) -> f64 {
        (self.next_jitter() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::{CloseCode, ProtocolError};

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    fn protocol() -> Failure {
        Failure::Protocol {
            code: CloseCode::PROTOCOL_ERROR,
            error: ProtocolError::MaskedFrame,
        }
    }

    #[test]
    fn a_streak_gets_max_attempts_and_a_completed_response_refills_it() {
        let mut budget = Budget::new(RetryPolicy::default());
        for attempt in 2..=5 {
            let verdict = budget.failed(Failure::Dropped, at(0));
            let Verdict::Retry {
                attempt: got,
                delay,
                ..
            } = verdict
            else {
                panic!("{verdict:?}")
            };
            assert_eq!(got, attempt);
            assert!(delay <= Duration::from_secs(8));
        }
        assert_eq!(
            budget.failed(Failure::Dropped, at(0)),
            Verdict::GiveUp {
                cause: Failure::Dropped,
                attempts: 5
            }
        );
        budget.succeeded();
        assert!(matches!(
            budget.failed(Failure::Dropped, at(0)),
            Verdict::Retry { attempt: 2, .. }
        ));
    }

    #[test]
    fn a_server_that_breaks_the_protocol_gets_one_more_try() {
        let mut budget = Budget::new(RetryPolicy::default());
        assert!(matches!(
            budget.failed(protocol(), at(0)),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            budget.failed(protocol(), at(0)),
            Verdict::GiveUp { attempts: 2, .. }
        ));
    }

    #[test]
    fn final_failures_end_at_once_and_401_is_retried_once_with_fresh_credentials() {
        let closed = Failure::Closed {
            code: CloseCode::POLICY_VIOLATION,
            reason: "no".into(),
        };
        let mut budget = Budget::new(RetryPolicy::default());
        assert!(matches!(
            budget.failed(closed, at(0)),
            Verdict::GiveUp { attempts: 1, .. }
        ));

        let unauthorized = || {
            Failure::Refused(alloc::boxed::Box::new(crate::ws::HttpResponse {
                status: 401,
                reason: "Unauthorized".into(),
                headers: alloc::vec::Vec::new(),
                body: Default::default(),
                body_truncated: false,
            }))
        };
        let mut plain = Budget::new(RetryPolicy::default());
        assert!(matches!(
            plain.failed(unauthorized(), at(0)),
            Verdict::GiveUp { .. }
        ));
        let mut refreshing = Budget::new(RetryPolicy::default());
        refreshing.set_refreshable(true);
        assert_eq!(
            refreshing.failed(unauthorized(), at(0)),
            Verdict::Retry {
                attempt: 2,
                delay: Duration::ZERO,
                refresh_credentials: true
            }
        );
        assert!(matches!(
            refreshing.failed(unauthorized(), at(0)),
            Verdict::GiveUp { .. }
        ));
    }

    #[test]
    fn the_deadline_stops_a_streak() {
        let mut policy = RetryPolicy::default().with_max_attempts(100);
        policy.deadline = Some(Duration::from_secs(3));
        let mut budget = Budget::new(policy);
        let mut now = 0;
        let mut attempts = 0;
        loop {
            match budget.failed(Failure::Dropped, at(now)) {
                Verdict::Retry { delay, .. } => now += delay.as_millis() as u64,
                Verdict::GiveUp { .. } => break,
            }
            attempts += 1;
            assert!(now < 3_000, "an attempt started after the deadline");
        }
        assert!(attempts >= 2, "{attempts}");
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let mut budget = Budget::new(RetryPolicy::default().with_max_attempts(1000));
        budget.mix_randomness(&[7; 32]);
        let mut seen = alloc::collections::BTreeSet::new();
        for _ in 0..50 {
            budget.succeeded();
            if let Verdict::Retry { delay, .. } = budget.failed(Failure::Dropped, at(0)) {
                assert!((250..=500).contains(&delay.as_millis()), "{delay:?}");
                seen.insert(delay);
            }
        }
        assert!(seen.len() > 10, "{seen:?}");
    }
}
