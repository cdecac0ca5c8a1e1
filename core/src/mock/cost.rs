//! [`ServerCost`]: an optional model of the server-side work a response waits for before it
//! streams, zero by default. The mock otherwise charges no time for the state a request needs,
//! so a benchmark against it measures transport only; with a cost it can show what protocol.md
//! §2.3 is about: a chained WebSocket request finds its parent in the connection-local cache
//! and brings only new items, while HTTP must process the whole context again (`store: false`)
//! or load the stored parent (`previous_response_id`).
//!
//! Two charges, each added to the delay of one planned event, so the transports' existing
//! timers play them (`MockConnection::poll_timeout`, the delays of `HttpMock`'s SSE events):
//!
//! - **stored lookup**, before `response.created`: resolving `previous_response_id` from the
//!   persistent store must succeed before the response exists (a miss is an `error`, not a
//!   response). Charged when the parent comes from the store, not from this connection's
//!   cache: every HTTP `previous_response_id` request, a WebSocket one only after a reconnect
//!   (or once the parent is no longer the latest of any lane). A miss is answered at once.
//! - **input processing**, after `response.in_progress` and before the first output event
//!   (for a warm-up, before its `response.completed`): `per_input_kib` per KiB of the JSON of
//!   the request's own `input`, which is all the connection's cache does not already hold. A
//!   full-context request pays for the whole context, a chained request for its new items.
//!   `instructions` and `tools` are not charged (both transports resend them every turn).
//!
//! The non-streaming HTTP answer (a JSON body) is not delayed, as it ignores the streaming pace.

use core::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration_ms;
use super::plan::Planned;

/// Bytes in a KiB, the unit of [`ServerCost::per_input_kib`].
const KIB: u128 = 1024;

/// Server-side time a response waits before it streams; zero (the default) charges nothing.
/// See the module docs for where each charge falls.
///
/// JSON: `{"per_input_kib_ms": 1, "stored_lookup_ms": 20}`, milliseconds, fractions allowed
/// (`0.5`).
///
/// ```
/// use core::time::Duration;
/// use responses_ws_core::mock::{Script, ServerCost};
///
/// let cost = ServerCost::new(Duration::from_millis(1), Duration::from_millis(20));
/// assert_eq!(cost.input(3 * 1024), Duration::from_millis(3));
/// assert_eq!(cost.input(512), Duration::from_micros(500));
///
/// let script = Script::new().with_server_cost(cost);
/// assert!(script.to_json().contains(r#""server_cost":{"per_input_kib_ms":1,"stored_lookup_ms":20}"#));
/// assert!(ServerCost::default().is_zero());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ServerCost {
    /// Time to process each KiB (1024 bytes, prorated) of a request's own `input`.
    /// JSON: `per_input_kib_ms`.
    #[serde(rename = "per_input_kib_ms", with = "duration_ms::fractional")]
    pub per_input_kib: Duration,
    /// Time to load the parent named by `previous_response_id` from the persistent store.
    /// JSON: `stored_lookup_ms`.
    #[serde(rename = "stored_lookup_ms", with = "duration_ms::fractional")]
    pub stored_lookup: Duration,
}

/// Where a request's `previous_response_id` was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// In this connection's in-memory cache: no lookup.
    Cache,
    /// In the persistent store of `store: true` responses: a lookup.
    Store,
}

impl ServerCost {
    /// A cost of `per_input_kib` per KiB of input and `stored_lookup` per lookup in the store.
    pub fn new(per_input_kib: Duration, stored_lookup: Duration) -> Self {
        ServerCost {
            per_input_kib,
            stored_lookup,
        }
    }

    /// Whether it charges nothing.
    pub fn is_zero(&self) -> bool {
        self.per_input_kib.is_zero() && self.stored_lookup.is_zero()
    }

    /// The time to process `bytes` of input (saturating).
    pub fn input(&self, bytes: usize) -> Duration {
        let nanos = self.per_input_kib.as_nanos().saturating_mul(bytes as u128) / KIB;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The time to resolve a parent found where `found` says.
    fn lookup(&self, found: Option<Found>) -> Duration {
        match found {
            Some(Found::Store) => self.stored_lookup,
            Some(Found::Cache) | None => Duration::ZERO,
        }
    }

    /// Adds the charges to `events` (a plan, `response.created` first): the lookup before the
    /// first event, the input before the first event after the lifecycle ones.
    pub(crate) fn charge(&self, events: &mut [Planned], input_bytes: usize, found: Option<Found>) {
        if let Some(first) = events.first_mut() {
            first.delay = first.delay.saturating_add(self.lookup(found));
        }
        let working = events
            .iter()
            .position(|event| !event.is_lifecycle())
            .or(events.len().checked_sub(1));
        if let Some(event) = working.and_then(|index| events.get_mut(index)) {
            event.delay = event.delay.saturating_add(self.input(input_bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::Script;

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn input_is_prorated_and_saturates() {
        let cost = ServerCost::new(ms(2), ms(0));
        assert_eq!(cost.input(0), Duration::ZERO);
        assert_eq!(cost.input(1024), ms(2));
        assert_eq!(cost.input(256), Duration::from_micros(500));
        let huge = ServerCost::new(Duration::MAX, Duration::ZERO);
        assert_eq!(huge.input(usize::MAX), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn json_is_milliseconds_with_fractions() {
        let cost = ServerCost::new(Duration::from_micros(500), ms(20));
        let script = Script::new().with_server_cost(cost);
        let json = script.to_json();
        assert!(
            json.contains(r#""server_cost":{"per_input_kib_ms":0.5,"stored_lookup_ms":20}"#),
            "{json}"
        );
        assert_eq!(Script::from_json(&json).unwrap(), script);
        let partial = Script::from_json(r#"{"server_cost":{"stored_lookup_ms":7}}"#).unwrap();
        assert_eq!(partial.server_cost, ServerCost::new(Duration::ZERO, ms(7)));
        assert!(Script::from_json(r#"{"server_cost":{"stored_lookup_ms":-1}}"#).is_err());
        assert!(Script::from_json("{}").unwrap().server_cost.is_zero());
        assert!(!Script::new().to_json().contains("server_cost"));
    }
}
