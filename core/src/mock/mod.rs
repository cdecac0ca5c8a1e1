//! A scripted mock of the Responses API server, sans-IO, built from the same layers as the
//! client: it reads [`ClientEvent`](crate::wire::ClientEvent)s and writes
//! [`ServerEvent`](crate::wire::ServerEvent)s as protocol.md describes them. For our own tests,
//! the CLI's WebSocket-vs-HTTP benchmark and users' test suites.
//!
//! - [`Script`]: what the model answers, turn by turn ([`Turn`]: text or function calls, with
//!   optional reasoning and, before calls, a commentary message), the streaming pace, the
//!   [`Limits`], the [`Faults`] and an optional [`ServerCost`] (server-side time for input
//!   processing and stored lookups, zero by default). Serde, so it can come from a JSON file.
//! - [`MockConnection`]: one WebSocket connection, on text frames — lanes, queueing, the
//!   per-lane cache, warm-up, steering, the multi-agent beta (`response.inject` into a
//!   response that waits for tool outputs, [`MultiAgentScript`]), the age limit, drops. A driver puts it behind
//!   [`ws::Connection`](crate::ws::Connection) in the server role after asking
//!   [`Script::upgrade`] how to answer the handshake.
//! - [`HttpMock`]: the same script behind `POST /v1/responses` with SSE and stateless
//!   (`store: false`) semantics.
//! - [`HttpConnection`]: one transport's HTTP/1.1 side — requests read and routed, answers
//!   and SSE streams framed and paced — until it upgrades to WebSocket.
//!
//! The n-th model response of every conversation plays the n-th scripted response, where n is
//! counted from the `previous_response_id` chain or from the model items replayed in a
//! full-context `input`; so one script serves incremental (WebSocket) and full-context (HTTP)
//! clients alike. Everything is deterministic: ids come from counters, time from the driver.

mod cache;
mod connection;
mod conversation;
mod cost;
mod duration_ms;
mod errors;
mod faults;
mod handshake;
mod http;
mod http_connection;
mod ids;
mod inject;
mod lanes;
mod model;
mod peer;
mod plan;
mod script;
mod steer;
mod traffic;

pub use cache::ResponseStore;
pub use connection::{Action, MockConnection, Occupancy};
pub use cost::ServerCost;
pub use faults::{
    AgeLimit, AgeNotice, BreakKind, DropFault, FaultOutcome, Faults, ProtocolBreak, Refusal,
    StopReading, TurnFault, UpgradeFault,
};
pub use handshake::Upgrade;
pub use http::{HttpAnswer, HttpMock, HttpReply, SseEvent, SseStream};
pub use http_connection::{HttpConnection, HttpEvent};
pub use inject::MultiAgentScript;
pub use peer::MockPeer;
pub use script::{
    Limits, Script, ScriptedCall, ScriptedCommentary, ScriptedReasoning, Turn, DEFAULT_FINAL_TEXT,
    DEFAULT_MODEL,
};
pub use traffic::Traffic;
