//! The pool's `tracing` spans and events (feature `tracing`): a span per connection and per
//! turn, kept open from the core's dial (admission) to its close (end), and events for what
//! happens to connections. Over HTTP + SSE a connection has no socket of its own: its span
//! lives while the core lists it, and each request's socket has a `pool.socket` span under
//! it. Fields are ids, lanes, response ids and counts: never a header or a key.

use std::collections::{HashMap, HashSet};

use responses_ws_core::pool::{ConnId, ConnectionPhase, ConvId, Pool, PoolEvent};
use responses_ws_core::session::SessionEvent;
use tracing::{debug, debug_span, info, info_span, warn, Span};

/// The open spans.
#[derive(Debug, Default)]
pub(crate) struct Traces {
    /// WebSocket connections, from their dial to their close.
    conns: HashMap<ConnId, Span>,
    /// HTTP connections, from their first turn to the core's forgetting them.
    http_conns: HashMap<ConnId, Span>,
    /// HTTP sockets, from their dial to their close.
    sockets: HashMap<ConnId, Span>,
    turns: HashMap<ConvId, TurnSpan>,
    /// The core's counts of moves and failed opens last seen.
    moves: u64,
    failed: u64,
    /// Connections seen draining.
    draining: HashSet<ConnId>,
    /// Whether the pool ran over HTTP + SSE when last seen.
    over_http: bool,
}

#[derive(Debug)]
struct TurnSpan {
    span: Span,
    attempts: u32,
}

impl Traces {
    /// Records what `event` says, before it is dispatched.
    pub(crate) fn on_event(&mut self, event: &PoolEvent, pool: &Pool) {
        if matches!(event, PoolEvent::Dial { .. } | PoolEvent::Close { .. }) {
            self.note_transport(pool);
        }
        match event {
            PoolEvent::Dial { conn } => match pool.http_connection_of(*conn) {
                Some(owner) => {
                    let parent = self.connection_span(owner);
                    let span = debug_span!(parent: &parent, "pool.socket", socket = conn.0, conn = owner.0);
                    span.in_scope(|| debug!(socket = conn.0, "socket dial"));
                    self.sockets.insert(*conn, span);
                }
                None => {
                    let span =
                        info_span!("pool.connection", conn = conn.0, transport = "websocket");
                    span.in_scope(|| info!(conn = conn.0, "dial"));
                    self.conns.insert(*conn, span);
                }
            },
            PoolEvent::Close { conn } if self.sockets.contains_key(conn) => {
                let span = self.sockets.remove(conn).unwrap_or_else(Span::none);
                span.in_scope(|| debug!(socket = conn.0, "socket closed"));
            }
            PoolEvent::Close { conn } => {
                self.draining.remove(conn);
                let span = self.conns.remove(conn).unwrap_or_else(Span::none);
                let stats = pool.stats();
                span.in_scope(|| {
                    if stats.connections_failed_total > self.failed {
                        warn!(
                            conn = conn.0,
                            throttled = stats.throttled,
                            "connection failed to open (upgrade refused, or dial failed)"
                        );
                    }
                    if stats.moves_total > self.moves {
                        info!(
                            conn = conn.0,
                            moved = stats.moves_total - self.moves,
                            "connection lost: its running turns move to others"
                        );
                    }
                    info!(conn = conn.0, "connection closed");
                });
                self.failed = stats.connections_failed_total;
                self.moves = stats.moves_total;
            }
            PoolEvent::TurnAdmitted { conv, turn, conn } => {
                let parent = self.connection_span(*conn);
                let span = info_span!(
                    parent: &parent,
                    "pool.turn",
                    conversation = conv.0,
                    turn = turn.0,
                    conn = conn.0,
                    lane = tracing::field::Empty,
                    response_id = tracing::field::Empty,
                    attempts = 0u32,
                );
                self.turns.insert(*conv, TurnSpan { span, attempts: 0 });
            }
            PoolEvent::Conversation { conv, event, .. } => self.on_session(*conv, event),
            PoolEvent::TurnEnded { conv, result, .. } => {
                if let Some(turn) = self.turns.remove(conv) {
                    turn.span.in_scope(|| match result {
                        Ok(()) => debug!("turn ended"),
                        Err(error) => warn!(%error, "turn failed"),
                    });
                }
            }
            _ => {}
        }
    }

    /// `conn`'s span. A WebSocket connection's is made at its dial; a connection without
    /// one is an HTTP connection (the core dials only its sockets), whose span starts here.
    fn connection_span(&mut self, conn: ConnId) -> Span {
        if let Some(span) = self.conns.get(&conn) {
            return span.clone();
        }
        let span = self.http_conns.entry(conn).or_insert_with(|| {
            let span = info_span!("pool.connection", conn = conn.0, transport = "http");
            span.in_scope(|| info!(conn = conn.0, "HTTP connection opened"));
            span
        });
        span.clone()
    }

    /// The pool moved between transports (seen as its sockets come and go).
    fn note_transport(&mut self, pool: &Pool) {
        let over_http = pool.stats().over_http;
        if over_http != self.over_http {
            self.over_http = over_http;
            match over_http {
                true => warn!("the pool runs over HTTP + SSE (WebSocket mode refused with 426, or configured)"),
                false => info!("the pool is back on WebSocket mode (a probe's upgrade was accepted)"),
            }
        }
    }

    /// After the core's timers ran (where connections start draining: aged, or idle).
    pub(crate) fn after_timeout(&mut self, pool: &Pool) {
        if !self.http_conns.is_empty() {
            let listed: HashSet<ConnId> = pool.connections().map(|c| c.conn).collect();
            self.http_conns.retain(|conn, span| {
                let open = listed.contains(conn);
                if !open {
                    span.in_scope(|| info!(conn = conn.0, "connection closed"));
                }
                open
            });
        }
        for conn in pool.connections() {
            if conn.phase == ConnectionPhase::Draining && self.draining.insert(conn.conn) {
                let span = (self.conns.get(&conn.conn))
                    .or_else(|| self.http_conns.get(&conn.conn))
                    .cloned()
                    .unwrap_or_else(Span::none);
                span.in_scope(|| {
                    info!(
                        conn = conn.conn.0,
                        turns_running = conn.turns_running,
                        "connection draining (rotation at its age limit, idle, or closing)"
                    )
                });
            }
        }
    }

    fn on_session(&mut self, conv: ConvId, event: &SessionEvent) {
        let Some(turn) = self.turns.get_mut(&conv) else {
            return;
        };
        match event {
            SessionEvent::Started {
                lane, response_id, ..
            } => {
                turn.attempts += 1;
                turn.span.record("lane", tracing::field::display(lane));
                turn.span.record("response_id", response_id.as_str());
                turn.span.record("attempts", turn.attempts);
            }
            SessionEvent::Retrying { .. } => {
                turn.span.in_scope(|| info!("request retried"));
            }
            SessionEvent::FullContext { .. } => {
                turn.span
                    .in_scope(|| debug!("request replays the full context"));
            }
            _ => {}
        }
    }
}
