//! The pool's limits and timings, every one with a default.

use core::time::Duration;

use crate::client::ClientConfig;
use crate::http_client::{HttpClientConfig, Transport};
use crate::retry::RetryPolicy;

/// Limits and timings of a [`Pool`](super::Pool).
///
/// ```
/// use core::time::Duration;
/// use responses_ws_core::client::ClientConfig;
/// use responses_ws_core::pool::PoolConfig;
/// use responses_ws_core::ws::WsUrl;
///
/// let url = WsUrl::parse("wss://api.openai.com/v1/responses").unwrap();
/// let mut config = PoolConfig::new(ClientConfig::new(url).api_key("sk-test"));
/// config.max_connections = 8;
/// assert_eq!(config.max_turns_per_connection, 16);
/// assert_eq!(config.idle_ttl, Duration::from_secs(300));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Where to connect, and the limits of each connection and its session.
    pub client: ClientConfig,
    /// Connections at once, in every state (opening, open, draining, closing). Default 16
    /// (at least 1).
    pub max_connections: usize,
    /// Turns running at once on one connection (default 16, the server's in-flight limit;
    /// capped by it and by `lanes_per_connection`).
    pub max_turns_per_connection: usize,
    /// Lanes (`stream_id`s) a connection uses, each named once over its life (default 32,
    /// capped by the server's named-lane limit). A lane keeps the conversation that last
    /// used it, so that its next turn chains from the server's cache.
    pub lanes_per_connection: usize,
    /// Conversations open at once (default 10 000).
    pub max_conversations: usize,
    /// Turns waiting for a lane (default 1024); one more is refused with
    /// [`PoolError::Overloaded`](super::PoolError::Overloaded).
    pub max_waiting: usize,
    /// How long a turn may wait for a lane before it fails, its request handed back
    /// (default 60 s); also how long a running turn may keep moving off connections that
    /// never open (an unreachable or refusing server) before it gives up; a failure no
    /// attempt can fix (an untrusted certificate, a 403) ends it at once. Moves off
    /// connections that had opened count against the request's retry budget instead.
    pub max_wait: Duration,
    /// Connections opening at once (default 4).
    pub max_opening: usize,
    /// The shortest time between two dials (default 50 ms: at most 20 new connections a
    /// second).
    pub dial_interval: Duration,
    /// Age at which a connection stops taking turns and closes once its running turns end
    /// (default 50 minutes, before the session's own rotation at 55 and the server's cap at
    /// 60).
    pub rotate_after: Duration,
    /// An open connection with no turn for this long is closed (default 5 minutes).
    pub idle_ttl: Duration,
    /// The backoff of the whole pool after a refused or failed upgrade (429, 503, …):
    /// jittered, doubling, `Retry-After` honoured up to `max_retry_after`; while it runs,
    /// one probe connection at a time. Its attempt count is not a limit: the pool keeps
    /// probing at `max_delay` (waiting turns time out by `max_wait`).
    pub upgrade_backoff: RetryPolicy,
    /// The transport to start on (default [`Transport::WebSocket`]). [`Transport::Http`]
    /// runs every turn over HTTP + SSE from the start, for good. Over HTTP a connection of
    /// the pool is an HTTP client whose turns each send their requests on a socket of their
    /// own (kept alive for reuse while the connection lives); the limits above hold as for
    /// WebSocket connections: `max_turns_per_connection` requests at once on each of at most
    /// `max_connections`, opened as turns need them, closed after `idle_ttl`. On WebSocket
    /// mode the pool moves to HTTP when an upgrade is refused in a way the client's
    /// [`http_fallback`](crate::client::ClientConfig::http_fallback) says to fall back on (a
    /// `426` with [`HttpFallback::OnUpgradeRequired`](crate::client::HttpFallback::OnUpgradeRequired)).
    pub transport: Transport,
    /// After a fallback to HTTP, how long the pool stays there before the next turn also
    /// dials one WebSocket connection to see whether upgrades are accepted again (default
    /// 15 minutes); another refusal starts another interval.
    pub reprobe_after: Duration,
}

impl PoolConfig {
    /// Defaults for connections made with `client`.
    pub fn new(client: ClientConfig) -> Self {
        PoolConfig {
            client,
            max_connections: 16,
            max_turns_per_connection: 16,
            lanes_per_connection: 32,
            max_conversations: 10_000,
            max_waiting: 1024,
            max_wait: Duration::from_secs(60),
            max_opening: 4,
            dial_interval: Duration::from_millis(50),
            rotate_after: Duration::from_secs(50 * 60),
            idle_ttl: Duration::from_secs(5 * 60),
            upgrade_backoff: RetryPolicy::default(),
            transport: Transport::WebSocket,
            reprobe_after: Duration::from_secs(15 * 60),
        }
    }

    /// Connections at once (at least 1).
    pub(crate) fn connections(&self) -> usize {
        self.max_connections.max(1)
    }

    /// Lanes per connection, within the session's named-lane limit (at least 1).
    pub(crate) fn lanes(&self) -> usize {
        self.lanes_per_connection
            .min(self.client.session.max_named_lanes)
            .max(1)
    }

    /// Turns per connection, within the lanes and the session's in-flight limit (at least 1).
    pub(crate) fn turns_per_connection(&self) -> usize {
        self.max_turns_per_connection
            .min(self.client.session.max_in_flight)
            .min(self.lanes())
            .max(1)
    }

    /// The configuration of the pool's HTTP connections: the WebSocket one's host, path,
    /// headers and session, with a kept-alive socket for each turn it runs at once.
    pub(crate) fn http_client(&self) -> HttpClientConfig {
        let mut http = HttpClientConfig::for_client(&self.client);
        http.max_idle_sockets = self.turns_per_connection();
        http
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::WsUrl;

    #[test]
    fn limits_are_kept_within_the_servers_and_never_zero() {
        let url = WsUrl::parse("ws://127.0.0.1/v1/responses").unwrap();
        let mut config = PoolConfig::new(ClientConfig::new(url));
        config.max_connections = 0;
        config.lanes_per_connection = 40;
        config.max_turns_per_connection = 20;
        assert_eq!(config.connections(), 1);
        assert_eq!(config.lanes(), 32, "the server's named-lane limit");
        assert_eq!(
            config.turns_per_connection(),
            16,
            "the server's in-flight limit"
        );
        config.lanes_per_connection = 4;
        assert_eq!(config.turns_per_connection(), 4, "a turn needs a lane");
        config.lanes_per_connection = 0;
        config.max_turns_per_connection = 0;
        assert_eq!((config.lanes(), config.turns_per_connection()), (1, 1));
    }
}
