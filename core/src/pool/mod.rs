//! [`Pool`]: many conversations (agents) on few connections, as a sans-IO machine in the
//! style of quinn-proto's `Endpoint`. The pool owns one [`Client`](crate::client::Client)
//! per connection (over HTTP + SSE an [`HttpClient`](crate::http_client::HttpClient)) and
//! decides everything a fleet of agents needs: which connection and lane
//! serve each turn, when to open a connection (at a bounded rate, and one probe at a time
//! after a 429 or 503 at upgrade), when to rotate, drain or close one, and how the
//! conversations of a connection that failed move to others without losing or repeating an
//! input or a tool output. It never touches a socket, a clock or the OS random source.
//!
//! - A conversation is a [`ConvId`] from [`Pool::open_conversation`]; its turns
//!   ([`Pool::turn`], [`Pool::try_turn`]) run on lanes (`stream_id`s) the pool names and
//!   reuses. Between turns the conversation keeps its lane while no other turn needs it, so
//!   its next turn chains from the server's cache; otherwise its context moves with it
//!   (full-context replay, or chaining with `store: true`). A conversation can also be
//!   steered ([`Pool::steer`]), forked ([`Pool::fork_conversation`]) or restored from a
//!   saved context ([`Pool::restore_conversation`]).
//! - Limits, each with a default ([`PoolConfig`]): connections, running turns per
//!   connection (within the server's 16 in flight), lanes per connection (within its 32
//!   names), conversations, waiting turns and how long they wait. Nothing grows past them:
//!   a turn that finds no lane waits in a FIFO queue, or is refused with
//!   [`PoolError::Overloaded`] and handed back ([`Rejected`]).
//! - [`Pool::stats`] and [`Pool::connections`] are snapshots for dashboards;
//!   [`Pool::close`] shuts the pool down gracefully.
//! - Transports: WebSocket mode, or HTTP + SSE ([`PoolConfig::transport`]), to which the
//!   whole pool moves when an upgrade is refused with `426` (as the client's
//!   [`HttpFallback`](crate::client::HttpFallback) says), sticky, WebSocket mode re-probed
//!   after [`PoolConfig::reprobe_after`]. Over HTTP a connection's turns each send their
//!   requests on a socket of their own; every socket, WebSocket or HTTP, has a [`ConnId`]
//!   of its own for the driver, so the driving contract is the same.
//!
//! # Driving contract
//!
//! Inputs:
//!
//! - per connection: [`handle_input`](Pool::handle_input) (or
//!   [`input_buffer`](Pool::input_buffer) + [`commit_input`](Pool::commit_input)),
//!   [`handle_eof`](Pool::handle_eof), and [`dial_failed`](Pool::dial_failed) when the
//!   socket asked for by [`PoolEvent::Dial`] could not be opened;
//! - time: [`handle_timeout`](Pool::handle_timeout) once [`poll_timeout`](Pool::poll_timeout)
//!   is reached;
//! - API calls: [`turn`](Pool::turn), [`try_turn`](Pool::try_turn),
//!   [`submit_tool_output`](Pool::submit_tool_output), [`steer`](Pool::steer),
//!   [`cancel_turn`](Pool::cancel_turn), [`close`](Pool::close), … Every call that can
//!   touch a connection takes `now`.
//!
//! Outputs, to drain after every input until empty:
//!
//! - [`poll_event`](Pool::poll_event): [`PoolEvent::Dial`] (open a socket for a new
//!   connection id), [`PoolEvent::Close`] (close that socket; the id is dead),
//!   and per conversation [`TurnAdmitted`](PoolEvent::TurnAdmitted),
//!   [`Conversation`](PoolEvent::Conversation) (the session's events) and
//!   [`TurnEnded`](PoolEvent::TurnEnded) (once per turn);
//! - [`poll_ready`](Pool::poll_ready): a connection that may have bytes to write, then
//!   [`poll_transmit`](Pool::poll_transmit) for it until `None`;
//! - [`poll_timeout`](Pool::poll_timeout): the next deadline.
//!
//! The pool is one value behind `&mut`. A driver with **one task** owns it and every
//! socket: it waits for any socket's readiness or the deadline, feeds the input, then
//! drains events, ready connections and the timeout. A driver with **one task per socket**
//! shares it behind a mutex: each socket task feeds its own connection's bytes; after any
//! input (its own, or an API call from an agent task), whoever held the lock drains
//! `poll_event` (dispatching conversation events to the agents' channels and `Dial` to a
//! new socket task) and `poll_ready` (waking the socket tasks named), and re-arms the one
//! timer at `poll_timeout`. Socket tasks write what `poll_transmit` gives for their own
//! connection. In both shapes, a turn that waits is an entry in the pool's queue: dropping
//! its waiter calls [`cancel_turn`](Pool::cancel_turn), which hands the request back.
//!
//! # Example
//!
//! A one-task driver, with the [`mock`](crate::mock) server in memory in place of sockets
//! (and the clock standing still, since the mock answers at once):
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! use responses_ws_core::client::ClientConfig;
//! use responses_ws_core::mock::{MockConnection, Script};
//! use responses_ws_core::pool::{Pool, PoolConfig, PoolEvent};
//! use responses_ws_core::wire::ResponseCreate;
//! use responses_ws_core::ws::{self, Connection, WsUrl};
//! use responses_ws_core::Instant;
//!
//! let url = WsUrl::parse("ws://mock.test/v1/responses")?;
//! let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(url)), [1; 32]);
//! let now = Instant::ZERO;
//! let agent = pool.open_conversation()?;
//! let hi = ResponseCreate { input: Some("Hi".into()), ..Default::default() };
//! pool.turn(agent, hi, now)?;
//!
//! // One "socket" per connection the pool dials: a server-role WebSocket and the mock.
//! let script = Script::new().text("Hello!", 2);
//! let mut sockets = BTreeMap::new();
//! let mut ended = None;
//! for _ in 0..100 {
//!     while let Some(event) = pool.poll_event() {
//!         match event {
//!             PoolEvent::Dial { conn } => {
//!                 let server = Connection::server(ws::Config::default(), [2; 32], now);
//!                 sockets.insert(conn, (server, MockConnection::new(script.clone(), 0, now)));
//!             }
//!             PoolEvent::TurnEnded { result, .. } => ended = Some(result),
//!             _ => {}
//!         }
//!     }
//!     while let Some(conn) = pool.poll_ready() {
//!         while let Some(bytes) = pool.poll_transmit(conn) {
//!             sockets.get_mut(&conn).unwrap().0.handle_input(&bytes, now);
//!         }
//!     }
//!     for (&conn, (server, mock)) in &mut sockets {
//!         while let Some(event) = server.poll_event() {
//!             match event {
//!                 ws::Event::Request(_) => server.accept(&[])?,
//!                 ws::Event::Message(ws::Message::Text(text)) => mock.handle_text(text.as_str(), now),
//!                 _ => {}
//!             }
//!         }
//!         while let Some(frame) = mock.poll_transmit() {
//!             server.send_text(frame)?;
//!         }
//!         while let Some(bytes) = server.poll_transmit() {
//!             pool.handle_input(conn, &bytes, now);
//!         }
//!     }
//!     if ended.is_some() {
//!         break;
//!     }
//! }
//! assert!(ended.expect("the turn ended").is_ok());
//! let answer = pool.ledger(agent).unwrap().items().last().unwrap();
//! assert!(serde_json::to_string(answer)?.contains("Hello!"));
//! assert_eq!(pool.stats().turns_completed_total, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod admission;
mod config;
mod conversation;
mod driving;
mod events;
mod gate;
mod ids;
mod journal;
mod lifecycle;
mod link;
mod machine;
mod member;
mod placement;
mod slots;
mod stats;
mod timers;
mod transport;

pub use config::PoolConfig;
pub use events::{PoolError, PoolEvent, Rejected, TurnError};
pub use ids::{ConnId, ConvId, TurnId};
pub use machine::Pool;
pub use member::ConnectionPhase;
pub use stats::{ConnectionStats, Stats};
