//! [`Stats`]: a snapshot of the pool, for dashboards and the load benchmark;
//! [`ConnectionStats`]: the same for one connection.

use super::ids::ConnId;
use super::member::ConnectionPhase;
use crate::http_client::Transport;

/// What the pool holds and has done. Counters (`…_total`) only grow; a rate such as turns
/// per second is the difference of two snapshots over the time between them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections open and taking turns.
    pub connections_open: usize,
    /// Connections dialed whose upgrade has not finished.
    pub connections_opening: usize,
    /// Connections taking no more turns: draining (aged or idle) or closing.
    pub connections_draining: usize,
    /// Conversations open.
    pub conversations: usize,
    /// Turns admitted and not ended (running, or moving off a failed connection).
    pub turns_in_flight: usize,
    /// Turns waiting for a lane.
    pub turns_waiting: usize,
    /// Whether the pool backs off after a refused upgrade (one probe at a time).
    pub throttled: bool,
    /// Whether new turns run over HTTP + SSE (configured, or after a `426`) rather than
    /// WebSocket mode.
    pub over_http: bool,
    /// HTTP sockets open (each carrying a request, or idle and kept for reuse).
    pub http_sockets: usize,
    /// Connections dialed.
    pub connections_dialed_total: u64,
    /// Connections that failed to open (refused, dial failure, handshake timeout).
    pub connections_failed_total: u64,
    /// Requests sent again after their connection failed.
    pub retries_total: u64,
    /// Requests sent with the full context instead of chaining.
    pub replays_total: u64,
    /// Conversations moved off a connection that ended under them with a turn running.
    pub moves_total: u64,
    /// Turns ended well.
    pub turns_completed_total: u64,
    /// Turns ended with an error.
    pub turns_failed_total: u64,
}

/// One connection of the pool, as [`Pool::connections`](super::Pool::connections) lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// The connection.
    pub conn: ConnId,
    /// Where it is in its life.
    pub phase: ConnectionPhase,
    /// What carries it: a WebSocket, or HTTP + SSE (each of its turns' requests on a socket
    /// of its own).
    pub transport: Transport,
    /// Turns running on it (at most `max_turns_per_connection`).
    pub turns_running: usize,
    /// Conversations holding one of its lanes, running or idle (at most
    /// `lanes_per_connection`).
    pub conversations: usize,
}
