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
mod durable;
mod hub;
mod link;

use std::sync::Arc;
use std::time::Duration;

use responses_ws_core::pool::{Pool as CorePool, PoolConfig};
use responses_ws_core::retry::RetryPolicy;
use responses_ws_core::session::LaneLedger;

pub use conversation::{Conversation, Turn};
pub use durable::Resumption;
pub use responses_ws_adapter::pool::Error;
pub use responses_ws_adapter::{Resumed, Start};
pub use responses_ws_core::pool::{
    ConnId, ConnectionPhase, ConnectionStats, ConvId, PoolError, Rejected, Stats, TurnError, TurnId,
};

use crate::{random, Config, ConnectError};
use hub::{Dialing, Hub};
use responses_ws_adapter::pool::PoolJournal;

/// Many conversations on few connections (see the [module documentation](self)).
/// `Clone + Send + Sync`; once every clone and every conversation is dropped, the pool
/// closes (without waiting).
///
/// ```
/// # use responses_ws_blocking::pool::Pool;
/// # use responses_ws_blocking::{Config, ResponseCreate};
/// # use responses_ws_tokio::mock::{MockServer, Script};
/// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
/// let pool = Pool::new(Config::new(&server.url())?)?;
/// let workers: Vec<_> = (0..4).map(|i| {
///     let agent = pool.conversation().unwrap();
///     std::thread::spawn(move || agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input(format!("Task {i}")), |_call| String::new()))
/// }).collect();
/// for worker in workers {
///     assert_eq!(worker.join().unwrap()?.all_output_text(), "Hello!");
/// }
/// pool.close();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    ///
    /// ```
    /// # use responses_ws_blocking::pool::Pool;
    /// # use responses_ws_blocking::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let pool = Pool::new(Config::new(&server.url())?)?;
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| String::new())?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(config: Config) -> Result<Pool, ConnectError> {
        Pool::builder(config).build()
    }

    /// A pool for connections made with `config`, with limits to set.
    ///
    /// ```
    /// # use responses_ws_blocking::pool::Pool;
    /// # use responses_ws_blocking::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let pool = Pool::builder(Config::new(&server.url())?).max_connections(2).build()?;
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| String::new())?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(config: Config) -> PoolBuilder {
        let parts = config.into_parts();
        PoolBuilder {
            limits: responses_ws_adapter::pool::limits_for(&parts),
            parts,
        }
    }

    /// A new conversation. Refused beyond the pool's `max_conversations`.
    ///
    /// ```
    /// # use responses_ws_blocking::pool::Pool;
    /// # use responses_ws_blocking::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let pool = Pool::builder(Config::new(&server.url())?).max_conversations(1).build()?;
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| String::new())?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// assert!(pool.conversation().is_err()); // one open at most
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn conversation(&self) -> Result<Conversation, Error> {
        let conv = self
            .inner
            .hub
            .with(|state, _| state.pool.open_conversation())
            .map_err(Error::Pool)?;
        Ok(Conversation::new(Arc::clone(&self.inner), conv))
    }

    /// A conversation that continues `context` (a saved [`Conversation::ledger`]).
    ///
    /// ```
    /// # use responses_ws_blocking::pool::Pool;
    /// # use responses_ws_blocking::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let pool = Pool::new(Config::new(&server.url())?)?;
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| String::new())?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// let saved = agent.ledger().expect("a conversation");
    /// drop(agent);
    /// // Later: the conversation continues where it stopped.
    /// let agent = pool.restore(saved)?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("More"), |_call| String::new())?;
    /// assert_eq!(response.all_output_text(), "Again!");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore(&self, context: LaneLedger) -> Result<Conversation, Error> {
        let conv = self
            .inner
            .hub
            .with(|state, _| state.pool.restore_conversation(context))
            .map_err(Error::Pool)?;
        Ok(Conversation::new(Arc::clone(&self.inner), conv))
    }

    /// What the pool holds and has done (see [`Stats`]).
    ///
    /// ```
    /// # use responses_ws_blocking::pool::Pool;
    /// # use responses_ws_blocking::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let pool = Pool::new(Config::new(&server.url())?)?;
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| String::new())?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// let stats = pool.stats();
    /// assert_eq!((stats.conversations, stats.turns_completed_total), (1, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.hub.lock().pool.stats()
    }

    /// Every connection, in id order.
    ///
    /// ```
    /// # use responses_ws_blocking::pool::Pool;
    /// # use responses_ws_blocking::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let pool = Pool::new(Config::new(&server.url())?)?;
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| String::new())?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// assert_eq!(pool.connections().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connections(&self) -> Vec<ConnectionStats> {
        self.inner.hub.lock().pool.connections().collect()
    }

    /// Closes the pool gracefully and blocks until it is over: no new turn is taken; turns
    /// still waiting end with [`TurnError::Closed`]; running turns run to their end, then
    /// every connection closes.
    ///
    /// ```
    /// # use responses_ws_blocking::pool::Pool;
    /// # use responses_ws_blocking::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let pool = Pool::new(Config::new(&server.url())?)?;
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| String::new())?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// pool.close();
    /// assert!(agent.turn(ResponseCreate::new("gpt-5.5").input("Hi")).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.inner.hub.with(|state, now| state.pool.close(now));
        self.inner.hub.wait_closed();
    }
}

/// The limits of a [`Pool`], each with a default (those of
/// [`responses_ws_core::pool::PoolConfig`]); [`build`](Self::build) makes the pool.
///
/// ```
/// # use responses_ws_blocking::pool::Pool;
/// # use responses_ws_blocking::{Config, ResponseCreate};
/// # use responses_ws_tokio::mock::{MockServer, Script};
/// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
/// let pool = Pool::builder(Config::new(&server.url())?)
///     .max_connections(2)
///     .max_wait(std::time::Duration::from_secs(5))
///     .build()?;
/// let agent = pool.conversation()?;
/// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| String::new())?;
/// assert_eq!(response.all_output_text(), "Hello!");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PoolBuilder {
    parts: responses_ws_adapter::ConfigParts,
    limits: PoolConfig,
}

impl PoolBuilder {
    responses_ws_adapter::pool_limit_setters!("responses_ws_blocking");

    /// The limits as set so far.
    ///
    /// ```
    /// # use responses_ws_blocking::pool::Pool;
    /// # use responses_ws_blocking::Config;
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let builder = Pool::builder(Config::new(&server.url())?);
    /// assert_eq!(builder.limits().max_connections, 16); // the default
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn limits(&self) -> &PoolConfig {
        &self.limits
    }

    /// The pool, its driver thread started. Fails with [`ConnectError::Tls`] for TLS
    /// settings that do not make a configuration, [`ConnectError::Random`] when the OS
    /// random source fails, [`ConnectError::Io`] when the thread cannot start.
    ///
    /// ```
    /// # use responses_ws_blocking::pool::Pool;
    /// # use responses_ws_blocking::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let pool = Pool::builder(Config::new(&server.url())?).build()?;
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| String::new())?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
        let journal = self.parts.store.map(PoolJournal::new);
        let hub = Hub::new(CorePool::new(self.limits, seed), dialing, journal);
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
