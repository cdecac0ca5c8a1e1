//! Many agents on few connections, blocking: [`Pool`] and a [`Conversation`] per agent
//! thread, the same shape as `responses_ws_futures::pool` without the awaits. The core's
//! sans-IO pool ([`responses_ws_core::pool`]) makes every decision; this module runs one
//! driver thread (the core's deadline; a thread started per dial) and one thread per
//! connection that reads its socket, and writes from whichever thread made the core queue
//! bytes.
//!
//! Why threads per connection and not one thread polling non-blocking sockets: std has no
//! readiness API (`poll`/`epoll`), so one thread over many non-blocking sockets would spin or
//! sleep; a blocked read wakes exactly when bytes arrive, at the cost of a thread (and its
//! stack) per connection — a few dozen for thousands of agents. TLS sessions are shared
//! between a connection's reader and writers behind a short lock (no socket IO under it).
//!
//! ```no_run
//! use responses_ws_blocking::pool::Pool;
//! use responses_ws_blocking::{Config, ResponseCreate};
//!
//! let pool = Pool::builder(Config::new("ws://127.0.0.1:8080/v1/responses")?)
//!     .max_connections(4)
//!     .build()?;
//! let workers: Vec<_> = (0..100)
//!     .map(|i| {
//!         let agent = pool.conversation().unwrap();
//!         std::thread::spawn(move || {
//!             let request = ResponseCreate::new("gpt-5.5").input(format!("Task {i}"));
//!             agent.run_tool_loop(request, |call| format!("done: {}", call.name))
//!         })
//!     })
//!     .collect();
//! for worker in workers {
//!     println!("{}", worker.join().unwrap()?.all_output_text());
//! }
//! pool.close();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod conversation;
mod hub;
mod link;

use std::sync::Arc;
use std::time::Duration;

use responses_ws_core::pool::{Pool as CorePool, PoolConfig};
use responses_ws_core::retry::RetryPolicy;
use responses_ws_core::session::LaneLedger;

pub use conversation::{Conversation, Turn};
pub use responses_ws_adapter::pool::Error;
pub use responses_ws_core::pool::{
    ConnId, ConnectionPhase, ConnectionStats, ConvId, PoolError, Rejected, Stats, TurnError, TurnId,
};

use crate::{random, Config, ConnectError};
use hub::{Dialing, Hub};

/// Many conversations on few connections (see the [module documentation](self)).
/// `Clone + Send + Sync`; once every clone and every conversation is dropped, the pool
/// closes (without waiting).
#[derive(Clone, Debug)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

/// What every handle of a pool shares; the last one closes it.
#[derive(Debug)]
pub(crate) struct PoolInner {
    pub(crate) hub: Arc<Hub>,
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        self.hub.with(|state, now| state.pool.close(now));
    }
}

impl Pool {
    /// A pool with the default limits (see [`PoolBuilder`]); its driver thread is running.
    pub fn new(config: Config) -> Result<Pool, ConnectError> {
        Pool::builder(config).build()
    }

    /// A pool for connections made with `config`, with limits to set.
    pub fn builder(config: Config) -> PoolBuilder {
        let parts = config.into_parts();
        PoolBuilder {
            limits: PoolConfig::new(parts.client.clone()),
            parts,
        }
    }

    /// A new conversation. Refused beyond the pool's `max_conversations`.
    pub fn conversation(&self) -> Result<Conversation, Error> {
        let conv = self
            .inner
            .hub
            .with(|state, _| state.pool.open_conversation())
            .map_err(Error::Pool)?;
        Ok(Conversation::new(Arc::clone(&self.inner), conv))
    }

    /// A conversation that continues `context` (a saved [`Conversation::ledger`]).
    pub fn restore(&self, context: LaneLedger) -> Result<Conversation, Error> {
        let conv = self
            .inner
            .hub
            .with(|state, _| state.pool.restore_conversation(context))
            .map_err(Error::Pool)?;
        Ok(Conversation::new(Arc::clone(&self.inner), conv))
    }

    /// What the pool holds and has done (see [`Stats`]).
    pub fn stats(&self) -> Stats {
        self.inner.hub.lock().pool.stats()
    }

    /// Every connection, in id order.
    pub fn connections(&self) -> Vec<ConnectionStats> {
        self.inner.hub.lock().pool.connections().collect()
    }

    /// Closes the pool gracefully and blocks until it is over: no new turn is taken; turns
    /// still waiting end with [`TurnError::Closed`]; running turns run to their end, then
    /// every connection closes.
    pub fn close(&self) {
        self.inner.hub.with(|state, now| state.pool.close(now));
        self.inner.hub.wait_closed();
    }
}

/// The limits of a [`Pool`], each with a default (those of
/// [`responses_ws_core::pool::PoolConfig`]); [`build`](Self::build) makes the pool.
#[derive(Debug)]
pub struct PoolBuilder {
    parts: responses_ws_adapter::ConfigParts,
    limits: PoolConfig,
}

macro_rules! limit {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Self {
                self.limits.$name = value;
                self
            }
        )*
    };
}

impl PoolBuilder {
    limit! {
        /// Connections at once, in every state (default 16).
        max_connections: usize;
        /// Turns running at once on one connection (default 16, the server's in-flight limit).
        max_turns_per_connection: usize;
        /// Lanes (`stream_id`s) a connection uses over its life (default 32, the server's limit).
        lanes_per_connection: usize;
        /// Conversations open at once (default 10 000).
        max_conversations: usize;
        /// Turns waiting for a lane (default 1024); one more is refused as overloaded.
        max_waiting: usize;
        /// How long a turn may wait for a lane (default 60 s).
        max_wait: Duration;
        /// Connections opening at once (default 4).
        max_opening: usize;
        /// The shortest time between two dials (default 50 ms).
        dial_interval: Duration;
        /// Age at which a connection stops taking turns and is replaced (default 50 min).
        rotate_after: Duration;
        /// An open connection with no turn for this long is closed (default 5 min).
        idle_ttl: Duration;
        /// The pool's backoff after a refused or failed upgrade (429, 503 …).
        upgrade_backoff: RetryPolicy;
    }

    /// The limits as set so far.
    pub fn limits(&self) -> &PoolConfig {
        &self.limits
    }

    /// The pool, its driver thread started. Fails with [`ConnectError::Tls`] for TLS
    /// settings that do not make a configuration, [`ConnectError::Random`] when the OS
    /// random source fails, [`ConnectError::Io`] when the thread cannot start.
    pub fn build(self) -> Result<Pool, ConnectError> {
        let url = self.parts.client.url.clone();
        let tls = match url.is_secure() {
            true => Some(self.parts.tls.client_config().map_err(ConnectError::Tls)?),
            false => None,
        };
        let seed = random::seed().map_err(ConnectError::Random)?;
        let dialing = Dialing {
            url,
            tls,
            timeout: self.parts.connect_timeout,
        };
        let hub = Hub::new(CorePool::new(self.limits, seed), dialing);
        hub.start().map_err(|source| ConnectError::Io {
            addr: "the pool's driver thread".into(),
            source,
        })?;
        Ok(Pool {
            inner: Arc::new(PoolInner { hub }),
        })
    }
}

// The handles move between threads (checked when compiling).
const _: () = {
    const fn shared<T: Send + Sync + Clone + 'static>() {}
    const fn send<T: Send + 'static>() {}
    shared::<Pool>();
    shared::<Conversation>();
    send::<Turn>();
};
