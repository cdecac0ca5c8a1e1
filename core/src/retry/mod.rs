//! Retrying, bounded: which failures are worth another attempt ([`Failure`]), how long to
//! wait and how many attempts a request and a streak of connections get ([`RetryPolicy`]),
//! how safe it is to send a request again ([`RetrySafety`]), and the error a request or the
//! client ends with once the budget is spent ([`GaveUp`]).
//!
//! The bookkeeping of consecutive failed connections is [`Budget`], which the
//! [`Client`](crate::client::Client) owns: adapters only wait the delays it gives and dial.
//! Pure arithmetic and data: the caller supplies time and randomness.

mod budget;
mod failure;
mod policy;

pub use budget::{Budget, Verdict};
pub use failure::{Failure, FailureClass, GaveUp, RetrySafety};
pub use policy::RetryPolicy;
