//! The session's limits and timings, with defaults equal to the server's.

use core::time::Duration;

use crate::retry::RetryPolicy;

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
    /// How often a request is sent and a connection retried (default: 5 attempts, 0.5 s
    /// doubling to 8 s).
    pub retry: RetryPolicy,
    /// A request in flight that gets no event for this long fails (or, not started yet, is
    /// retried on a new connection) and the connection is replaced (default 300 s, codex's
    /// figure; `None` waits for ever). A server that answers pings but never streams is caught
    /// by this.
    pub idle_timeout: Option<Duration>,
    /// Requests waiting in lane queues, all lanes together (default 1024); one more is refused
    /// with [`SessionError::QueueFull`](super::SessionError::QueueFull). Also the most steers
    /// a lane holds unanswered by the server.
    pub max_queued: usize,
    /// Bytes of server events one running response may take, counted as they arrive (text
    /// deltas, items, the final snapshot; default 256 MiB). Past it the request fails with
    /// [`RequestError::ResponseTooLarge`](super::RequestError::ResponseTooLarge) and the
    /// connection is replaced, since a response cannot be cancelled: a server that streams
    /// without end cannot grow the assembled response without limit.
    pub max_response_bytes: usize,
    /// Whether the transport keeps the responses of a connection for its next requests
    /// (default `true`: WebSocket mode's connection-local cache). Over HTTP it is `false`
    /// ([`HttpClient`](crate::http_client::HttpClient) sets it): a lane chains with
    /// `previous_response_id` only from a response stored with `store: true`, and otherwise
    /// sends its full context each turn (reported as
    /// [`FullContextReason::NewConnection`](super::FullContextReason::NewConnection)).
    pub connection_cache: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_in_flight: 16,
            max_named_lanes: 32,
            max_age: Duration::from_secs(60 * 60),
            rotate_after: Duration::from_secs(55 * 60),
            stream_events: true,
            retry: RetryPolicy::default(),
            idle_timeout: Some(Duration::from_secs(300)),
            max_queued: 1024,
            max_response_bytes: 256 * 1024 * 1024,
            connection_cache: true,
        }
    }
}
