//! Leases: which worker drives a conversation, until when, under which fencing token. The
//! rules are written once here and every backend applies them to the state it stores.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A worker's right to write a conversation's records.
///
/// Invariant: per conversation, each lease granted has a greater `token` than every one before
/// it; a store accepts writes only under the greatest (the current) one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The conversation.
    pub conversation: String,
    /// The worker holding it.
    pub holder: String,
    /// The fencing token.
    pub token: u64,
    /// When it expires, in milliseconds of the clock the caller passes.
    pub expires_at: u64,
}

/// The lease after `current` for `holder` at `now`: refused while another worker's lease
/// runs; the same holder re-acquiring gets a new token too (its old writes are fenced).
pub(crate) fn acquire(
    current: Option<&Lease>,
    conversation: &str,
    holder: &str,
    now: u64,
    ttl: Duration,
) -> Result<Lease, StoreError> {
    if let Some(lease) = current {
        if lease.holder != holder && lease.expires_at > now {
            return Err(StoreError::Held {
                conversation: conversation.into(),
                holder: lease.holder.clone(),
                expires_at: lease.expires_at,
            });
        }
    }
    Ok(Lease {
        conversation: conversation.into(),
        holder: holder.into(),
        token: current.map_or(1, |lease| lease.token + 1),
        expires_at: expiry(now, ttl),
    })
}

/// Checks that `presented` is the current lease: a worker whose lease was superseded is fenced.
/// An expired lease nobody took over still writes (no other worker can have written).
pub(crate) fn check(current: Option<&Lease>, presented: &Lease) -> Result<(), StoreError> {
    match current {
        Some(lease) if lease.token == presented.token => Ok(()),
        _ => Err(StoreError::Fenced {
            conversation: presented.conversation.clone(),
            token: presented.token,
            current: current.map_or(0, |lease| lease.token),
        }),
    }
}

/// `presented`, extended to `now + ttl` (if it is still current).
pub(crate) fn renew(
    current: Option<&Lease>,
    presented: &Lease,
    now: u64,
    ttl: Duration,
) -> Result<Lease, StoreError> {
    check(current, presented)?;
    Ok(Lease {
        expires_at: expiry(now, ttl),
        ..presented.clone()
    })
}

/// `presented`, expired at once (if it is still current): any worker may acquire next.
pub(crate) fn release(current: Option<&Lease>, presented: &Lease) -> Result<Lease, StoreError> {
    check(current, presented)?;
    Ok(Lease {
        expires_at: 0,
        ..presented.clone()
    })
}

fn expiry(now: u64, ttl: Duration) -> u64 {
    now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
}

/// A backend's one check-then-write of a conversation's lease: `change` sees the stored
/// lease (none yet: `None`) and returns the next one or refuses, and the backend stores what
/// it returns atomically with the check. [`Store`](crate::Store)'s three lease operations are
/// written once over it (`lease_methods!`).
pub(crate) trait LeaseCell {
    fn change_lease(
        &self,
        conversation: &str,
        change: &dyn Fn(Option<&Lease>) -> Result<Lease, StoreError>,
    ) -> Result<Lease, StoreError>;
}

/// `acquire`, `renew` and `release` of a [`Store`](crate::Store) impl whose type is a
/// [`LeaseCell`]: the lease rules of this module applied through its one check-then-write.
macro_rules! lease_methods {
    () => {
        fn acquire(
            &self,
            conversation: &str,
            holder: &str,
            now: u64,
            ttl: std::time::Duration,
        ) -> Result<crate::Lease, crate::StoreError> {
            crate::lease::LeaseCell::change_lease(self, conversation, &|current| {
                crate::lease::acquire(current, conversation, holder, now, ttl)
            })
        }

        fn renew(
            &self,
            presented: &crate::Lease,
            now: u64,
            ttl: std::time::Duration,
        ) -> Result<crate::Lease, crate::StoreError> {
            crate::lease::LeaseCell::change_lease(self, &presented.conversation, &|current| {
                crate::lease::renew(current, presented, now, ttl)
            })
        }

        fn release(&self, presented: &crate::Lease) -> Result<(), crate::StoreError> {
            crate::lease::LeaseCell::change_lease(self, &presented.conversation, &|current| {
                crate::lease::release(current, presented)
            })
            .map(drop)
        }
    };
}

pub(crate) use lease_methods;
