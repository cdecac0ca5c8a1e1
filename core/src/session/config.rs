//! The session's limits and timings, with defaults equal to the server's.

use core::time::Duration;

/// Limits and timings of a [`Session`](super::Session).
///
/// ```
/// use core::time::Duration;
/// use responses_ws_core::session::SessionConfig;
///
/// let mut config = SessionConfig::default();
/// config.rotate_after = Duration::from_secs(20 * 60); // a provider with a 25-minute limit
/// assert_eq!(config.max_in_flight, 16);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Responses in flight at once across all lanes (the server's limit: 16); more requests
    /// wait in their lane's queue.
    pub max_in_flight: usize,
    /// Distinct named lanes over a connection's life (the server's limit: 32); a request for
    /// one more is refused before it is sent.
    pub max_named_lanes: usize,
    /// The server's connection age limit (60 minutes for OpenAI).
    pub max_age: Duration,
    /// Age after which the session asks for a new connection, at the first moment no request
    /// is in flight (default 55 minutes).
    pub rotate_after: Duration,
    /// Whether every event of a running response is passed on as
    /// [`SessionEvent::Stream`](super::SessionEvent::Stream) (default `true`); outcomes and
    /// tool calls are reported either way.
    pub stream_events: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_in_flight: 16,
            max_named_lanes: 32,
            max_age: Duration::from_secs(60 * 60),
            rotate_after: Duration::from_secs(55 * 60),
            stream_events: true,
        }
    }
}
