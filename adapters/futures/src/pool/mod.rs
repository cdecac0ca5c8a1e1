//! Many agents on few connections: [`Pool`], driven by one [`PoolDriver`] future, with a
//! [`Conversation`] handle per agent. The core's sans-IO pool
//! ([`responses_ws_core::pool`]) makes every decision — which connection and lane serve a
//! turn, when to dial (at a bounded rate; one probe at a time after a 429 or 503 at
//! upgrade), rotate, drain or close, how a conversation moves off a failed connection without
//! losing or repeating a tool output; this module opens sockets, moves bytes and time, and
//! hands each conversation its events.
//!
//! - [`Pool::builder`] (limits, each with a default) → [`PoolBuilder::build`] gives the pool
//!   and its driver; spawn the driver on your runtime ([`PoolBuilder::spawn`] does it with
//!   tokio). `Pool` is `Clone + Send + Sync`.
//! - [`Pool::conversation`] → [`Conversation`] (`Clone + Send + Sync`):
//!   [`turn`](Conversation::turn) waits for a lane (first come, first served, cancel-safe) and
//!   gives a [`Turn`], a `Stream` of the turn's events; [`try_turn`](Conversation::try_turn)
//!   never waits; [`run_tool_loop`](Conversation::run_tool_loop),
//!   [`submit_tool_output`](Conversation::submit_tool_output), [`steer`](Conversation::steer),
//!   [`fork`](Conversation::fork). A user never names a `stream_id`.
//! - [`Pool::stats`], [`Pool::connections`]: snapshots; [`Pool::close`]: graceful end.
//!
//! With the `tracing` feature: a span per connection (`pool.connection`, field `conn`) and
//! per turn (`pool.turn`: `conversation`, `turn`, `conn`, `lane`, `response_id`,
//! `attempts`), and events for dials, refused upgrades, drains and rotations, closes and
//! moves. No field carries a header or a key.
//!
//! Files: `shared` (the state behind the lock and the dispatch of the core's outputs),
//! `steps` (a conversation's calls on that state), `driver` (the driver future and one task
//! per connection), `conversation` and `durable` (the handles), `trace` (feature `tracing`).
//! The conversations' mailboxes, the journal, [`Error`] and [`Resumption`] live in
//! `responses_ws_adapter::pool`; `responses_ws_blocking::pool` is this pool behind blocking
//! calls.
//!
//! ```no_run
//! use responses_ws_futures::pool::Pool;
//! use responses_ws_futures::{Config, ResponseCreate};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new("wss://api.openai.com/v1/responses")?.api_key("sk-…");
//! let (pool, driver) = Pool::builder(config).max_connections(8).build()?;
//! async_std::task::spawn(driver);
//! let agents: Vec<_> = (0..1000).map(|_| pool.conversation()).collect::<Result<_, _>>()?;
//! let turns = agents.iter().map(|agent| async move {
//!     agent.turn(ResponseCreate::new("gpt-5.5").input("Hi")).await?.finish().await
//! });
//! for answer in futures_util::future::join_all(turns).await {
//!     println!("{}", answer?.all_output_text());
//! }
//! pool.close().await;
//! # Ok(())
//! # }
//! ```

mod conversation;
mod driver;
mod durable;
mod shared;
mod steps;
#[cfg(feature = "tracing")]
mod trace;

use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use responses_ws_core::pool::{Pool as CorePool, PoolConfig};
use responses_ws_core::retry::RetryPolicy;
use responses_ws_core::session::LaneLedger;

pub use conversation::{Conversation, Turn};
pub use driver::PoolDriver;
pub use durable::Resumption;
pub use responses_ws_adapter::pool::Error;
pub use responses_ws_adapter::{Resumed, Start};
pub use responses_ws_core::pool::{
    ConnId, ConnectionPhase, ConnectionStats, ConvId, PoolError, Rejected, Stats, TurnError, TurnId,
};

use crate::runtime::Clock;
use crate::{Config, ConnectError};
use driver::Dialing;
use responses_ws_adapter::pool::PoolJournal;
use shared::{Lock, Shared};

/// Many conversations on few connections (see the [module documentation](self)).
/// `Clone + Send + Sync`; once every clone and every conversation is dropped, the pool
/// closes as [`close`](Self::close) does.
///
/// ```
/// # use responses_ws_futures::pool::Pool;
/// # use responses_ws_futures::runtime::Smol;
/// # use responses_ws_futures::{Config, ResponseCreate};
/// # use responses_ws_tokio::mock::{MockServer, Script};
/// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
/// let config = Config::new(&server.url())?.runtime(Smol);
/// smol::block_on(async {
/// let (pool, driver) = Pool::new(config)?;
/// smol::spawn(driver).detach();
/// let turns: Vec<_> = (0..4).map(|i| {
///     let agent = pool.conversation().unwrap();
///     smol::spawn(async move {
///         agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input(format!("Task {i}")), |_call| async { String::new() }).await
///     })
/// }).collect();
/// for turn in turns {
///     assert_eq!(turn.await?.all_output_text(), "Hello!");
/// }
/// pool.close().await;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

/// What every handle of a pool shares; the last one closes it.
#[derive(Debug)]
pub(crate) struct PoolInner {
    pub(crate) lock: Lock,
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        self.lock.with(|shared, now| shared.pool.close(now));
    }
}

impl Pool {
    /// A pool with the default limits (16 connections, 16 turns each, 1024 turns waiting at
    /// most 60 s …: see [`PoolBuilder`]) and its driver, to spawn.
    ///
    /// ```
    /// # use responses_ws_futures::pool::Pool;
    /// # use responses_ws_futures::runtime::Smol;
    /// # use responses_ws_futures::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let config = Config::new(&server.url())?.runtime(Smol);
    /// smol::block_on(async {
    /// let (pool, driver) = Pool::new(config)?;
    /// smol::spawn(driver).detach();
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(config: Config) -> Result<(Pool, PoolDriver), ConnectError> {
        Pool::builder(config).build()
    }

    /// A pool for connections made with `config` (URL, API key, TLS, connect timeout,
    /// runtime; its retry policy is the per-request budget), with limits to set.
    ///
    /// ```
    /// # use responses_ws_futures::pool::Pool;
    /// # use responses_ws_futures::runtime::Smol;
    /// # use responses_ws_futures::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let config = Config::new(&server.url())?.runtime(Smol);
    /// smol::block_on(async {
    /// let (pool, driver) = Pool::builder(config).max_connections(2).build()?;
    /// smol::spawn(driver).detach();
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
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
    /// # use responses_ws_futures::pool::Pool;
    /// # use responses_ws_futures::runtime::Smol;
    /// # use responses_ws_futures::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let config = Config::new(&server.url())?.runtime(Smol);
    /// smol::block_on(async {
    /// let (pool, driver) = Pool::builder(config).max_conversations(1).build()?;
    /// smol::spawn(driver).detach();
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// assert!(pool.conversation().is_err()); // one open at most
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn conversation(&self) -> Result<Conversation, Error> {
        let conv = self
            .inner
            .lock
            .with(|shared, _| shared.pool.open_conversation())
            .map_err(Error::Pool)?;
        Ok(Conversation::new(Arc::clone(&self.inner), conv))
    }

    /// A conversation that continues `context` (a saved [`Conversation::ledger`]): its
    /// first turn sends the whole context, or chains from its last response when that was
    /// stored (`store: true`).
    ///
    /// ```
    /// # use responses_ws_futures::pool::Pool;
    /// # use responses_ws_futures::runtime::Smol;
    /// # use responses_ws_futures::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let config = Config::new(&server.url())?.runtime(Smol);
    /// smol::block_on(async {
    /// let (pool, driver) = Pool::new(config)?;
    /// smol::spawn(driver).detach();
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// let saved = agent.ledger().expect("a conversation");
    /// drop(agent);
    /// // Later: the conversation continues where it stopped.
    /// let agent = pool.restore(saved)?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("More"), |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Again!");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore(&self, context: LaneLedger) -> Result<Conversation, Error> {
        let conv = self
            .inner
            .lock
            .with(|shared, _| shared.pool.restore_conversation(context))
            .map_err(Error::Pool)?;
        Ok(Conversation::new(Arc::clone(&self.inner), conv))
    }

    /// What the pool holds and has done: connections open, opening and draining,
    /// conversations, turns in flight and waiting, and counters (dials, failures, retries,
    /// replays, moves, turns completed and failed). A rate is the difference of two snapshots.
    ///
    /// ```
    /// # use responses_ws_futures::pool::Pool;
    /// # use responses_ws_futures::runtime::Smol;
    /// # use responses_ws_futures::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let config = Config::new(&server.url())?.runtime(Smol);
    /// smol::block_on(async {
    /// let (pool, driver) = Pool::new(config)?;
    /// smol::spawn(driver).detach();
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// let stats = pool.stats();
    /// assert_eq!((stats.conversations, stats.turns_completed_total), (1, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.lock.lock().pool.stats()
    }

    /// Every connection, in id order.
    ///
    /// ```
    /// # use responses_ws_futures::pool::Pool;
    /// # use responses_ws_futures::runtime::Smol;
    /// # use responses_ws_futures::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let config = Config::new(&server.url())?.runtime(Smol);
    /// smol::block_on(async {
    /// let (pool, driver) = Pool::new(config)?;
    /// smol::spawn(driver).detach();
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// assert_eq!(pool.connections().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connections(&self) -> Vec<ConnectionStats> {
        self.inner.lock.lock().pool.connections().collect()
    }

    /// Closes the pool gracefully and waits for the end: no new turn is taken; turns still
    /// waiting end with [`TurnError::Closed`] (their requests handed back); running turns
    /// run to their end, then every connection closes. Returns at once if the driver is gone.
    ///
    /// ```
    /// # use responses_ws_futures::pool::Pool;
    /// # use responses_ws_futures::runtime::Smol;
    /// # use responses_ws_futures::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let config = Config::new(&server.url())?.runtime(Smol);
    /// smol::block_on(async {
    /// let (pool, driver) = Pool::new(config)?;
    /// smol::spawn(driver).detach();
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// pool.close().await;
    /// assert!(agent.turn(ResponseCreate::new("gpt-5.5").input("Hi")).await.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn close(&self) {
        self.inner.lock.with(|shared, now| shared.pool.close(now));
        poll_fn(|cx| {
            let mut shared = self.inner.lock.lock();
            if shared.driver_gone || (shared.pool.is_closed() && shared.conns.is_empty()) {
                return Poll::Ready(());
            }
            shared.closers.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// The limits of a [`Pool`], each with a default (those of
/// [`responses_ws_core::pool::PoolConfig`]); [`build`](Self::build) makes the pool.
///
/// ```
/// use std::time::Duration;
/// use responses_ws_futures::{pool::Pool, Config};
///
/// let builder = Pool::builder(Config::new("ws://127.0.0.1:8080/v1/responses")?)
///     .max_connections(8)
///     .max_waiting(4096)
///     .max_wait(Duration::from_secs(30));
/// assert_eq!(builder.limits().max_connections, 8);
/// # Ok::<(), responses_ws_futures::ConnectError>(())
/// ```
#[derive(Debug)]
pub struct PoolBuilder {
    parts: responses_ws_adapter::ConfigParts<crate::runtime::RuntimeChoice>,
    limits: PoolConfig,
}

impl PoolBuilder {
    responses_ws_adapter::pool_limit_setters!("responses_ws_futures");

    /// The limits as set so far.
    ///
    /// ```
    /// # use responses_ws_futures::pool::Pool;
    /// # use responses_ws_futures::runtime::Smol;
    /// # use responses_ws_futures::Config;
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let config = Config::new(&server.url())?.runtime(Smol);
    /// smol::block_on(async {
    /// let builder = Pool::builder(config);
    /// assert_eq!(builder.limits().max_connections, 16); // the default
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn limits(&self) -> &PoolConfig {
        &self.limits
    }

    /// The pool and its driver: spawn the driver on the runtime of your choice. Fails with
    /// [`ConnectError::NoRuntime`] when no runtime was set or can be chosen, and with
    /// [`ConnectError::Random`] when the OS random source fails.
    ///
    /// ```
    /// # use responses_ws_futures::pool::Pool;
    /// # use responses_ws_futures::runtime::Smol;
    /// # use responses_ws_futures::{Config, ResponseCreate};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2).text("Again!", 1))?;
    /// let config = Config::new(&server.url())?.runtime(Smol);
    /// smol::block_on(async {
    /// let (pool, driver) = Pool::builder(config).build()?;
    /// smol::spawn(driver).detach(); // or any runtime's spawn
    /// let agent = pool.conversation()?;
    /// let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<(Pool, PoolDriver), ConnectError> {
        let runtime = self.parts.extra.resolve().ok_or(ConnectError::NoRuntime)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|error| ConnectError::Random(error.into()))?;
        let dialing = Dialing {
            runtime: Arc::clone(&runtime),
            url: self.parts.client.url.clone(),
            tls: self.parts.tls,
            connector: None,
            timeout: self.parts.connect_timeout,
        };
        let clock = Clock::new(Arc::clone(&runtime));
        let journal = self.parts.store.map(PoolJournal::new);
        let core = CorePool::new(self.limits, seed);
        let lock = Lock::new(Shared::new(core, clock, journal));
        let driver = PoolDriver::new(lock.clone(), dialing);
        let inner = Arc::new(PoolInner { lock });
        Ok((Pool { inner }, driver))
    }

    /// Builds the pool and spawns its driver on the current tokio runtime (feature
    /// `tokio`; panics outside one, as `tokio::spawn` does).
    ///
    /// ```
    /// use responses_ws_futures::pool::Pool;
    /// use responses_ws_futures::{Config, ResponseCreate};
    /// use responses_ws_tokio::mock::{MockServer, Script};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let server = MockServer::start(Script::new().text("Hello!", 2)).await?;
    ///     let pool = Pool::builder(Config::new(&server.url())?).spawn()?;
    ///     let agent = pool.conversation()?;
    ///     let response = agent.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| async { String::new() }).await?;
    ///     assert_eq!(response.all_output_text(), "Hello!");
    ///     pool.close().await;
    ///     Ok(())
    /// }
    /// ```
    #[cfg(feature = "tokio")]
    pub fn spawn(self) -> Result<Pool, ConnectError> {
        let (pool, driver) = self.build()?;
        tokio::spawn(driver);
        Ok(pool)
    }
}

// The handles move between threads and tasks (checked when compiling).
const _: () = {
    const fn shared<T: Send + Sync + Clone + 'static>() {}
    const fn send<T: Send + 'static>() {}
    shared::<Pool>();
    shared::<Conversation>();
    send::<Turn>();
    send::<PoolDriver>();
    send::<Error>();
};
