//! The reconnect policy: which endings of a connection are worth another one, and after how
//! long (exponential backoff with jitter). Pure arithmetic: the adapter supplies the random
//! numbers and does the waiting.

use core::time::Duration;

use crate::session::{ReconnectReason, SessionEvent};
use crate::ws::{CloseCode, Closed, Error, HandshakeError, HttpResponse};

/// When and how soon to reconnect.
///
/// ```
/// use core::time::Duration;
/// use responses_ws_core::reconnect::ReconnectPolicy;
/// use responses_ws_core::ws::{CloseCode, Closed};
///
/// let policy = ReconnectPolicy::default();
/// let dropped = Closed { code: CloseCode::ABNORMAL, reason: Default::default(), sent_code: None, clean: false, error: None };
/// // First retry: between half and the whole base delay, as `random` (0.0..1.0) says.
/// assert_eq!(policy.delay_after_close(&dropped, 0, 0.5), Some(Duration::from_millis(375)));
/// assert_eq!(policy.delay_after_close(&dropped, policy.max_attempts, 0.5), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReconnectPolicy {
    /// The first delay (default 500 ms); each further attempt doubles it.
    pub base_delay: Duration,
    /// The longest delay (default 30 s).
    pub max_delay: Duration,
    /// Attempts in a row before giving up (default 8); a connection that opens resets the count.
    pub max_attempts: u32,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_attempts: 8,
        }
    }
}

impl ReconnectPolicy {
    /// Whether a connection that ended like `closed` is worth another: going away (1001), no
    /// status (1005), dropped (1006), server error (1011), restart (1012), try again later (1013)
    /// and TLS failure (1015). A normal close (1000) or a protocol, policy or size violation is
    /// not retried. A refused upgrade is retried only when the refusal is temporary: 408, 429
    /// or a 5xx; a 401, 403 or 426 would only be refused again.
    pub fn retries(closed: &Closed) -> bool {
        if let Some(refusal) = refusal(closed) {
            return matches!(refusal.status, 408 | 429 | 500..=599);
        }
        const RETRIED: [CloseCode; 7] = [
            CloseCode::GOING_AWAY,
            CloseCode::NO_STATUS,
            CloseCode::ABNORMAL,
            CloseCode::INTERNAL_ERROR,
            CloseCode::SERVICE_RESTART,
            CloseCode::TRY_AGAIN_LATER,
            CloseCode::TLS_HANDSHAKE,
        ];
        RETRIED.contains(&closed.code)
    }

    /// Whether the session's request for a new connection is honoured (always: the session
    /// asks only when the connection is spent).
    pub fn retries_session(event: &SessionEvent) -> bool {
        matches!(
            event,
            SessionEvent::Reconnect {
                reason: ReconnectReason::ConnectionLimit
                    | ReconnectReason::Rotation
                    | ReconnectReason::ServerError(_)
            }
        )
    }

    /// The delay before attempt `attempt` (0 for the first), with `random` in `0.0..1.0`:
    /// "equal jitter", between half and all of `base_delay * 2^attempt`, capped at `max_delay`.
    /// `None` once `max_attempts` is reached.
    pub fn delay(&self, attempt: u32, random: f64) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let full = self
            .base_delay
            .saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let random = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Some(full / 2 + (full / 2).mul_f64(random))
    }

    /// The delay before reconnecting after a connection ended like `closed`, or `None` when it
    /// should not be retried. A refusal's `Retry-After` (in seconds) is honoured when it asks
    /// for longer than the backoff.
    pub fn delay_after_close(
        &self,
        closed: &Closed,
        attempt: u32,
        random: f64,
    ) -> Option<Duration> {
        if !Self::retries(closed) {
            return None;
        }
        let backoff = self.delay(attempt, random)?;
        let asked = refusal(closed)
            .and_then(|refusal| refusal.header("retry-after"))
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Some(asked.map_or(backoff, |asked| asked.max(backoff)))
    }
}

/// The server's answer when the connection ended with a refused upgrade.
fn refusal(closed: &Closed) -> Option<&HttpResponse> {
    match &closed.error {
        Some(Error::Handshake(HandshakeError::Rejected(response))) => Some(response),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(code: u16) -> Closed {
        Closed {
            code: CloseCode(code),
            reason: Default::default(),
            sent_code: None,
            clean: false,
            error: None,
        }
    }

    #[test]
    fn only_transient_endings_are_retried() {
        for code in [1001, 1005, 1006, 1011, 1012, 1013, 1015] {
            assert!(ReconnectPolicy::retries(&closed(code)), "{code}");
        }
        for code in [1000, 1002, 1003, 1007, 1008, 1009, 1010, 4000] {
            assert!(!ReconnectPolicy::retries(&closed(code)), "{code}");
        }
    }

    fn refused(status: u16, retry_after: Option<&str>) -> Closed {
        let mut headers = alloc::vec::Vec::new();
        if let Some(value) = retry_after {
            headers.push(crate::ws::Header {
                name: "Retry-After".into(),
                value: value.as_bytes().to_vec(),
            });
        }
        let response = HttpResponse {
            status,
            reason: "".into(),
            headers,
            body: Default::default(),
            body_truncated: false,
        };
        Closed {
            error: Some(Error::Handshake(HandshakeError::Rejected(
                alloc::boxed::Box::new(response),
            ))),
            ..closed(1006)
        }
    }

    #[test]
    fn refused_upgrades_are_retried_only_when_temporary_and_retry_after_is_honoured() {
        let policy = ReconnectPolicy::default();
        for status in [400, 401, 403, 404, 426] {
            assert_eq!(
                policy.delay_after_close(&refused(status, None), 0, 0.5),
                None,
                "{status}"
            );
        }
        for status in [408, 429, 500, 502, 503] {
            assert!(
                policy
                    .delay_after_close(&refused(status, None), 0, 0.5)
                    .is_some(),
                "{status}"
            );
        }
        let slow_down = refused(429, Some("7"));
        assert_eq!(
            policy.delay_after_close(&slow_down, 0, 0.5),
            Some(Duration::from_secs(7))
        );
        let garbled = refused(429, Some("soon"));
        assert_eq!(
            policy.delay_after_close(&garbled, 0, 0.5),
            Some(Duration::from_millis(375))
        );
    }

    #[test]
    fn delays_double_with_equal_jitter_up_to_the_cap() {
        let policy = ReconnectPolicy::default();
        let at = |attempt, random| policy.delay(attempt, random).unwrap().as_millis();
        assert_eq!((at(0, 0.0), at(0, 1.0)), (250, 500));
        assert_eq!((at(1, 0.0), at(1, 0.999_999)), (500, 999));
        assert_eq!((at(6, 0.0), at(6, 1.0)), (15_000, 30_000));
        assert_eq!(
            (at(7, 0.0), at(7, 1.0)),
            (15_000, 30_000),
            "capped at max_delay"
        );
        assert_eq!(policy.delay(8, 0.5), None);
        assert_eq!(at(0, f64::NAN), 250, "a bad random number is harmless");
    }
}
