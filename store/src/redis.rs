//! [`RedisStore`]: conversations in a Redis server, for workers on several machines.
//!
//! Per conversation, two keys: a hash with the lease (`holder`, `token`, `expires_at`) and a
//! list of the records, one JSON document per record, in `seq` order (a record's `seq` is
//! its index). Both keys carry the conversation in a `{hash tag}`, so a cluster keeps them
//! on one node. Every check-then-write is one Lua script, which Redis runs with no other
//! command in between; the rules of leases and records stay in [`lease`] and [`records`]:
//! a script only stores what they computed if the state they computed it from is unchanged,
//! and when it refuses it returns that state, from which the same rules explain why.

mod link;

use std::fmt;
use std::time::Duration;

use redis::{Connection, Script};
use responses_ws_core::persist::Record;

use crate::lease::{self, LeaseCell};
use crate::{records, Lease, Store, StoreError};
use link::{Failure, Link};

/// Appends records under a fencing token, all or none: only while the token is the current
/// lease's and the list holds exactly the records before the first one offered.
const APPEND: &str = r"
-- KEYS[1] lease hash, KEYS[2] record list; ARGV[1] the writer's token, ARGV[2] the seq of
-- its first record, ARGV[3..] the records.
local lease = redis.call('HMGET', KEYS[1], 'holder', 'token', 'expires_at')
local len = redis.call('LLEN', KEYS[2])
local ok = lease[2] == ARGV[1] and (#ARGV == 2 or tostring(len) == ARGV[2])
if ok and #ARGV > 2 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 3))
end
return {ok and 1 or 0, len, lease[1] or '', lease[2] or '', lease[3] or ''}
";

/// Replaces a conversation's lease if it is still the one the caller read (compare and set).
const SET_LEASE: &str = r"
-- KEYS[1] lease hash; ARGV[1..3] the lease read (holder, token, expires_at; all empty for
-- none), ARGV[4..6] the lease to store in its place.
local lease = redis.call('HMGET', KEYS[1], 'holder', 'token', 'expires_at')
local holder, token, expires = lease[1] or '', lease[2] or '', lease[3] or ''
local ok = holder == ARGV[1] and token == ARGV[2] and expires == ARGV[3]
if ok then
  redis.call('HSET', KEYS[1], 'holder', ARGV[4], 'token', ARGV[5], 'expires_at', ARGV[6])
end
return {ok and 1 or 0, holder, token, expires}
";

/// How many times a lease change is computed again when another worker changed the lease
/// between the read and the write, before [`StoreError::Unavailable`].
const LEASE_ATTEMPTS: usize = 8;

/// How a [`RedisStore`] connects and names its keys.
///
/// ```
/// use std::time::Duration;
/// use responses_ws_store::RedisOptions;
///
/// let mut options = RedisOptions::default();
/// options.io_timeout = Duration::from_secs(2);
/// options.key_prefix = "staging:".into();
/// assert_eq!(options.connect_timeout, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisOptions {
    /// How long opening a connection (TCP and handshake) may take. Default 2 s.
    pub connect_timeout: Duration,
    /// How long one command may wait for its reply (and for its bytes to be sent).
    /// Default 5 s: an append with `appendfsync always` waits for the server's fsync.
    pub io_timeout: Duration,
    /// Put before every key, so that several deployments can share one server. Default
    /// `responses-ws:`.
    pub key_prefix: String,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            connect_timeout: Duration::from_secs(2),
            io_timeout: Duration::from_secs(5),
            key_prefix: "responses-ws:".into(),
        }
    }
}

/// A store in a Redis server (Redis 6 or later, or a server speaking its protocol), shared
/// by any number of workers on any number of machines.
///
/// Durability is the server's: an append is acknowledged once Redis applied it, and it
/// survives the server's crash only as far as its persistence does. Run the server with
/// `appendonly yes` and `appendfsync always` for an fsync before every acknowledgement
/// (what the crate's tests and benchmark do), or `everysec` to risk the last second.
/// Replicas do not add safety by themselves: Redis replicates asynchronously, so a failover
/// can lose acknowledged writes — leases too, and a fencing token could then be granted
/// twice. Point every worker at one primary with `appendfsync always`, or accept that
/// window. Redis Cluster works (a conversation's keys share a hash slot) through a client
/// that follows redirects, which this one does not: use a single node or a proxy.
///
/// One connection per store, opened at [`open`](RedisStore::open) and opened again after a
/// connection fails; calls on one store take turns on it. A call whose connection fails is
/// tried once more on a new one when that is safe; an append whose reply was lost is checked
/// against the stored list, and is [`StoreError::InDoubt`] only if the server cannot be
/// reached to check it.
///
/// ```no_run
/// use std::time::Duration;
/// use responses_ws_core::persist::{Entry, Journal};
/// use responses_ws_core::session::Lane;
/// use responses_ws_store::{RedisStore, Store};
///
/// let store = RedisStore::open("redis://127.0.0.1:6379/0")?;
/// let lease = store.acquire("conv-1", "worker-a", 0, Duration::from_secs(30))?;
/// store.append(&lease, &[Journal::new("conv-1").record(Entry::Opened { lane: Lane::Default })])?;
/// assert_eq!(store.read("conv-1")?.len(), 1);
/// # Ok::<(), responses_ws_store::StoreError>(())
/// ```
pub struct RedisStore {
    link: Link,
    options: RedisOptions,
    append: Script,
    set_lease: Script,
}

impl RedisStore {
    /// Connects to the server at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `redis+unix:///path/to/socket`) with the default [`RedisOptions`].
    ///
    /// A server that cannot be reached is [`StoreError::Unavailable`]; a URL that does not
    /// parse is [`StoreError::Io`] of kind `InvalidInput`.
    pub fn open(url: &str) -> Result<RedisStore, StoreError> {
        RedisStore::open_with(url, RedisOptions::default())
    }

    /// Connects to the server at `url` with `options`.
    pub fn open_with(url: &str, options: RedisOptions) -> Result<RedisStore, StoreError> {
        Ok(RedisStore {
            link: Link::open(url, options.connect_timeout, options.io_timeout)?,
            options,
            append: Script::new(APPEND),
            set_lease: Script::new(SET_LEASE),
        })
    }

    fn key(&self, conversation: &str, what: &str) -> String {
        format!("{}{{{conversation}}}:{what}", self.options.key_prefix)
    }

    fn load_lease(&self, conversation: &str) -> Result<Option<Lease>, StoreError> {
        let key = self.key(conversation, "lease");
        let fields: Vec<Option<String>> = self.link.call(|connection| {
            redis::cmd("HMGET")
                .arg(&key)
                .arg(&["holder", "token", "expires_at"])
                .query(connection)
        })?;
        let [holder, token, expires_at] = <[Option<String>; 3]>::try_from(fields)
            .map_err(|_| corrupt(conversation, "HMGET answered a wrong number of fields"))?;
        stored_lease(
            conversation,
            &holder.unwrap_or_default(),
            &token.unwrap_or_default(),
            &expires_at.unwrap_or_default(),
        )
    }

    /// Whether `bodies` are stored from `first` on: asked after the reply to an append was
    /// lost. The list only grows and the script writes all or none, so the batch landed if
    /// and only if its first record is there.
    fn landed(
        &self,
        conversation: &str,
        first: u64,
        bodies: &[Vec<u8>],
    ) -> Result<bool, StoreError> {
        let Some(first_body) = bodies.first() else {
            return Ok(false);
        };
        let key = self.key(conversation, "records");
        let stored: Option<Vec<u8>> = self
            .link
            .call(|connection| redis::cmd("LINDEX").arg(&key).arg(first).query(connection))?;
        Ok(stored.as_ref() == Some(first_body))
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The address only: the URL may hold a password.
        f.debug_struct("RedisStore")
            .field("address", self.link.address())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl LeaseCell for RedisStore {
    /// Computes the next lease from the current one with `change` and stores it, unless
    /// another worker changed the lease in between (then again, from what it stored).
    /// Repeating the script is safe: it compares before it writes.
    fn change_lease(
        &self,
        conversation: &str,
        change: &dyn Fn(Option<&Lease>) -> Result<Lease, StoreError>,
    ) -> Result<Lease, StoreError> {
        let key = self.key(conversation, "lease");
        let mut current = self.load_lease(conversation)?;
        for _ in 0..LEASE_ATTEMPTS {
            let next = change(current.as_ref())?;
            let read = current.as_ref().map(fields).unwrap_or_default();
            let (swapped, holder, token, expires_at): (bool, String, String, String) =
                self.link.call(|connection| {
                    self.set_lease
                        .key(&key)
                        .arg(&read)
                        .arg(&fields(&next))
                        .invoke(connection)
                })?;
            if swapped {
                return Ok(next);
            }
            current = stored_lease(conversation, &holder, &token, &expires_at)?;
        }
        Err(StoreError::Unavailable(format!(
            "the lease of conversation {conversation:?} changed under {LEASE_ATTEMPTS} attempts in a row"
        )))
    }
}

impl Store for RedisStore {
    lease::lease_methods!();

    fn append(&self, presented: &Lease, new: &[Record]) -> Result<(), StoreError> {
        let conversation = presented.conversation.as_str();
        let first = new.first().map_or(0, |record| record.seq);
        let bodies: Vec<Vec<u8>> = new.iter().map(records::encode).collect();
        // A batch that does not number on from its own first record can never be stored:
        // an expected length of "none" makes the script refuse it and report the state.
        let expected_len = match records::continues(conversation, first, new) {
            Ok(()) => first.to_string(),
            Err(_) => "none".into(),
        };
        let (lease_key, records_key) = (
            self.key(conversation, "lease"),
            self.key(conversation, "records"),
        );
        let mut run = |connection: &mut Connection| {
            self.append
                .key(&lease_key)
                .key(&records_key)
                .arg(presented.token)
                .arg(&expected_len)
                .arg(&bodies)
                .invoke::<(bool, u64, String, String, String)>(connection)
        };
        let mut retried = false;
        let (stored, len, holder, token, expires_at) = loop {
            match self.link.attempt(&mut run) {
                Ok(reply) => break reply,
                Err(Failure::Refused(error)) => return Err(error),
                Err(Failure::Lost(why)) => match self.landed(conversation, first, &bodies) {
                    Ok(true) => return Ok(()),
                    // Provably not stored: once more, on the new connection.
                    Ok(false) if !retried => retried = true,
                    Ok(false) => return Err(StoreError::Unavailable(why)),
                    Err(unchecked) => {
                        return Err(StoreError::InDoubt(format!(
                            "{why}; whether it was stored could not be checked: {unchecked}"
                        )))
                    }
                },
            }
        };
        if stored {
            return Ok(());
        }
        let current = stored_lease(conversation, &holder, &token, &expires_at)?;
        lease::check(current.as_ref(), presented)?;
        records::continues(conversation, len, new)?;
        Err(corrupt(
            conversation,
            "the append script refused a batch that continues the conversation",
        ))
    }

    fn read(&self, conversation: &str) -> Result<Vec<Record>, StoreError> {
        let key = self.key(conversation, "records");
        let bodies: Vec<Vec<u8>> = self.link.call(|connection| {
            redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(connection)
        })?;
        // A record's seq is its index: anything else was not written by this store.
        (0..)
            .zip(&bodies)
            .map(|(index, body)| match records::decode(conversation, body)? {
                record if record.seq == index && record.conversation == conversation => Ok(record),
                record => Err(corrupt(
                    conversation,
                    &format!(
                        "record {} of {:?} stored at index {index}",
                        record.seq, record.conversation
                    ),
                )),
            })
            .collect()
    }
}

/// A lease as the scripts pass it: holder, token and expiry as strings.
fn fields(lease: &Lease) -> [String; 3] {
    [
        lease.holder.clone(),
        lease.token.to_string(),
        lease.expires_at.to_string(),
    ]
}

/// The lease stored as these fields (an empty token: none).
fn stored_lease(
    conversation: &str,
    holder: &str,
    token: &str,
    expires_at: &str,
) -> Result<Option<Lease>, StoreError> {
    if token.is_empty() {
        return Ok(None);
    }
    let number = |text: &str| {
        text.parse::<u64>().map_err(|_| {
            corrupt(
                conversation,
                &format!("lease field {text:?} is not a number"),
            )
        })
    };
    Ok(Some(Lease {
        conversation: conversation.into(),
        holder: holder.into(),
        token: number(token)?,
        expires_at: number(expires_at)?,
    }))
}

fn corrupt(conversation: &str, reason: &str) -> StoreError {
    StoreError::Corrupt {
        conversation: conversation.into(),
        reason: reason.into(),
    }
}
