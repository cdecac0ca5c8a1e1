//! [`DialGate`]: when the pool may open its next connection. New connections go out at a
//! bounded rate (a few opening at once, a minimum interval between dials). After a refused or
//! failed upgrade the whole pool backs off (jittered, doubling, `Retry-After` honoured) and
//! then sends one probe at a time until the server accepts an upgrade again: no thundering
//! herd. Pure bookkeeping: time and randomness come from the pool.

use core::time::Duration;

use super::ids::ConnId;
use crate::retry::{Budget, Failure, RetryPolicy, Verdict};
use crate::time::Instant;

/// The dial rate limit and the shared backoff.
///
/// Invariant: while `throttled`, `probe` is the only connection dialed since the last
/// failure that has not answered yet, and no dial starts before `until`.
#[derive(Debug)]
pub(crate) struct DialGate {
    /// Backoff and jitter of the pool's streak of failed upgrades.
    budget: Budget,
    interval: Duration,
    max_opening: usize,
    last_dial: Option<Instant>,
    throttled: bool,
    /// No dial before this while throttled.
    until: Instant,
    /// The one connection dialed while throttled, until it answers.
    probe: Option<ConnId>,
    /// The last failure, for turns that time out waiting.
    last_failure: Option<Failure>,
}

impl DialGate {
    pub(crate) fn new(policy: RetryPolicy, interval: Duration, max_opening: usize) -> Self {
        DialGate {
            budget: Budget::new(policy),
            interval,
            max_opening: max_opening.max(1),
            last_dial: None,
            throttled: false,
            until: Instant::ZERO,
            probe: None,
            last_failure: None,
        }
    }

    /// Whether a dial may start at `now` with `opening` connections still opening.
    pub(crate) fn may_dial(&self, now: Instant, opening: usize) -> bool {
        self.next_dial(opening).is_some_and(|at| at <= now)
    }

    /// The earliest moment the next dial may start, with `opening` connections still
    /// opening; `None` while that depends on one of them answering.
    pub(crate) fn next_dial(&self, opening: usize) -> Option<Instant> {
        if self.throttled {
            return self.probe.is_none().then_some(self.until);
        }
        if opening >= self.max_opening {
            return None;
        }
        Some(
            self.last_dial
                .map_or(Instant::ZERO, |last| last + self.interval),
        )
    }

    /// `conn` was dialed at `now`; `seed` is its randomness, mixed into the jitter.
    pub(crate) fn dialed(&mut self, conn: ConnId, seed: &[u8; 32], now: Instant) {
        self.budget.mix_randomness(seed);
        self.last_dial = Some(now);
        if self.throttled {
            self.probe = Some(conn);
        }
    }

    /// An upgrade succeeded: the server accepts again.
    pub(crate) fn accepted(&mut self, conn: ConnId) {
        self.budget.succeeded();
        self.throttled = false;
        if self.probe == Some(conn) {
            self.probe = None;
        }
    }

    /// Opening `conn` failed with `cause` (a refused upgrade, a dial or handshake failure):
    /// the pool backs off.
    pub(crate) fn failed(&mut self, conn: ConnId, cause: Failure, now: Instant) {
        if self.probe == Some(conn) {
            self.probe = None;
        }
        let policy = self.budget.policy();
        let asked = cause
            .retry_after()
            .map(|asked| asked.min(policy.max_retry_after));
        let fallback = asked.unwrap_or(Duration::ZERO).max(policy.max_delay);
        let delay = match self.budget.failed(cause.clone(), now) {
            Verdict::Retry { delay, .. } => delay,
            // The streak is longer than the policy's attempts, or the failure is final for
            // one client: the pool keeps probing, at the longest delay.
            _ => fallback,
        };
        self.throttled = true;
        self.until = self.until.max(now + delay);
        self.last_failure = Some(cause);
    }

    /// Whether the pool backs off (one probe at a time).
    pub(crate) fn is_throttled(&self) -> bool {
        self.throttled
    }

    /// The last failure to open a connection.
    pub(crate) fn last_failure(&self) -> Option<&Failure> {
        self.last_failure.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::vec;

    use crate::ws::{Header, HttpResponse};

    fn refused(status: u16, retry_after: &str) -> Failure {
        let response = HttpResponse {
            status,
            reason: "Too Many Requests".into(),
            headers: vec![Header {
                name: "Retry-After".into(),
                value: retry_after.as_bytes().to_vec(),
            }],
            body: Default::default(),
            body_truncated: false,
        };
        Failure::Refused(Box::new(response))
    }

    fn at(ms: u64) -> Instant {
        Instant::from_elapsed(Duration::from_millis(ms))
    }

    #[test]
    fn dials_are_spaced_and_bounded_by_the_connections_opening() {
        let mut gate = DialGate::new(RetryPolicy::default(), Duration::from_millis(50), 2);
        assert!(gate.may_dial(at(0), 0));
        gate.dialed(ConnId(0), &[1; 32], at(0));
        assert!(!gate.may_dial(at(49), 1));
        assert!(gate.may_dial(at(50), 1));
        assert!(!gate.may_dial(at(50), 2), "two opening already");
        assert_eq!(gate.next_dial(2), None);
    }

    #[test]
    fn a_refusal_honours_retry_after_then_lets_one_probe_through() {
        let mut gate = DialGate::new(RetryPolicy::default(), Duration::from_millis(50), 4);
        gate.dialed(ConnId(0), &[1; 32], at(0));
        gate.dialed(ConnId(1), &[2; 32], at(0));
        gate.failed(ConnId(0), refused(429, "3"), at(10));
        assert!(gate.is_throttled());
        assert_eq!(gate.next_dial(1), Some(at(3_010)));
        assert!(!gate.may_dial(at(3_009), 0));
        assert!(gate.may_dial(at(3_010), 0));
        gate.dialed(ConnId(2), &[3; 32], at(3_010));
        assert!(!gate.may_dial(at(60_000), 0), "one probe at a time");
        gate.failed(ConnId(2), refused(503, "1"), at(3_020));
        assert!(gate.next_dial(0).unwrap() >= at(4_020));
        gate.dialed(ConnId(3), &[4; 32], at(10_000));
        gate.accepted(ConnId(3));
        assert!(!gate.is_throttled());
        assert!(gate.may_dial(at(10_050), 0));
    }

    #[test]
    fn a_long_streak_keeps_probing_at_the_longest_delay() {
        let policy = RetryPolicy::default().with_max_attempts(2);
        let mut gate = DialGate::new(policy, Duration::ZERO, 4);
        let mut now = at(0);
        for conn in 0..5 {
            gate.dialed(ConnId(conn), &[conn as u8; 32], now);
            gate.failed(ConnId(conn), Failure::Dropped, now);
            let next = gate.next_dial(0).expect("probing goes on");
            assert!(next - now <= Duration::from_secs(8));
            now = next;
        }
    }
}
