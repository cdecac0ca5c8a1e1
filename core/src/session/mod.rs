//! The conversation machine on top of [`ws`](crate::ws) and [`wire`](crate::wire): lanes,
//! request queues, response assembly, tool-call sequencing and the ledger that replays full
//! context when the connection-local cache is gone.
//!
//! - [`Session`] routes server events to lanes and requests and decides what each request
//!   sends; [`SessionEvent`] is what it reports.
//! - [`Ledger`] keeps each lane's whole conversation (serde-saveable).
//! - [`ResponseAssembly`] builds a [`Response`](crate::wire::Response) from its events.
//! - [`ToolCall`] is a call the application answers.

mod assembly;
mod config;
mod events;
mod inject;
mod lane;
mod ledger;
mod machine;
mod refused;
mod stream_event;
mod tools;

pub use assembly::*;
pub use config::SessionConfig;
pub use events::{ReconnectReason, RequestError, RequestId, SessionError, SessionEvent};
pub use lane::{InvalidLaneName, Lane};
pub use ledger::{FullContextReason, LaneLedger, Ledger};
pub use machine::{LaneTransfer, Session};
pub use refused::Refused;
pub use stream_event::StreamEvent;
pub use tools::{ToolCall, ToolCallKind, ToolOutputError};
