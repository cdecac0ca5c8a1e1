//! Parts of the pool (in `responses-ws-futures`; the blocking pool of
//! `responses-ws-blocking` is its face) apart from its IO: [`Mailboxes`](mailboxes::Mailboxes),
//! what it keeps per conversation, [`PoolJournal`], its store, the builders' limits, and what
//! both faces hand out alike: [`Error`], why a conversation's call or turn did not succeed,
//! and [`Resumption`], a durable conversation taken over.

pub mod mailboxes;

mod error;
mod journal;
mod limits;
mod resumption;

pub use error::Error;
pub use journal::PoolJournal;
pub use limits::limits_for;
pub use resumption::Resumption;
