//! What the pool drivers share (the async one in `responses-ws-futures`, the blocking one in
//! `responses-ws-blocking`): [`Mailboxes`](mailboxes::Mailboxes), what a driver keeps per
//! conversation, [`PoolState`], a conversation's calls on the locked state, and [`Error`],
//! why a conversation's call or turn did not succeed.

pub mod mailboxes;

mod error;
mod journal;
mod limits;
mod state;

pub use error::Error;
pub use journal::PoolJournal;
pub use limits::limits_for;
pub use state::{DurableStep, Parts, PoolState, TurnStep};
