//! What the pool (in `responses-ws-futures`; the blocking pool of `responses-ws-blocking` is
//! its face) is made of besides its IO: [`Mailboxes`](mailboxes::Mailboxes), what it keeps per
//! conversation, [`PoolState`], a conversation's calls on the locked state, and what both
//! faces hand out alike: [`Error`], why a conversation's call or turn did not succeed, and
//! [`Resumption`], a durable conversation taken over.

pub mod mailboxes;

mod error;
mod journal;
mod limits;
mod resumption;
mod state;

pub use error::Error;
pub use journal::PoolJournal;
pub use limits::limits_for;
pub use resumption::Resumption;
pub use state::{DurableStep, Parts, PoolState, TurnStep};
