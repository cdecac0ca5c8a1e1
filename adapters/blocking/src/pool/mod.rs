//! Many agents on few connections, blocking: [`Pool`] and a [`Conversation`] per agent
//! thread, the same shape as `responses_ws_futures::pool` without the awaits — because it is
//! that pool. The builder builds the async pool on `smol`'s TCP and timers and starts one
//! engine thread (`responses-ws-pool`) that drives its `PoolDriver` until the pool is closed;
//! every call of [`Pool`], [`Conversation`], [`Turn`] and [`Resumption`] is the async one,
//! waited for on the caller's thread (as `reqwest::blocking` does over its async client). The
//! core's sans-IO pool ([`responses_ws_core::pool`]) makes every decision; one event loop moves
//! every socket, so thousands of agents on a few connections cost one thread besides theirs.
//!
//! Tool handlers stay plain closures on the caller's thread: a response's calls go to the
//! handler one after the other, in call order, and their outputs go back together once the
//! last one returned (the async pool's tool loop, handed futures that are ready at once).
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

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use responses_ws_core::pool::PoolConfig;
use responses_ws_core::retry::RetryPolicy;
use responses_ws_core::session::LaneLedger;
use responses_ws_futures::pool as engine;
use responses_ws_futures::runtime::{RuntimeChoice, Smol};

pub use conversation::{Conversation, Turn};
pub use durable::Resumption;
pub use responses_ws_adapter::pool::Error;
pub use responses_ws_adapter::{Resumed, Start};
pub use responses_ws_core::pool::{
    ConnId, ConnectionPhase, ConnectionStats, ConvId, PoolError, Rejected, Stats, TurnError, TurnId,
};

use crate::{Config, ConnectError};

/// The engine thread's name.
const ENGINE_THREAD: &str = "responses-ws-pool";

/// Waits on the caller's thread for `future`, a call of the async pool. The thread only parks
/// until the engine wakes it: the sockets and timers are the engine thread's.
fn wait<T>(future: impl Future<Output = T>) -> T {
    smol::future::block_on(future)
}

/// Many conversations on few connections (see the [module documentation](self)).
/// `Clone + Send + Sync`; once every clone and every conversation is dropped, the pool
/// closes (without waiting) and its engine thread ends once its connections are shut.
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
    inner: engine::Pool,
    /// The engine thread, joined by the first [`close`](Pool::close) (and detached when the
    /// last handle goes: it ends once the pool it drives is closed).
    engine: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Pool {
    /// A pool with the default limits (see [`PoolBuilder`]); its engine thread is running.
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
        let config = config.with_extra(RuntimeChoice::default()).runtime(Smol);
        PoolBuilder {
            inner: engine::Pool::builder(config),
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
        self.inner.conversation().map(Conversation::new)
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
        self.inner.restore(context).map(Conversation::new)
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
        self.inner.stats()
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
        self.inner.connections()
    }

    /// Closes the pool gracefully and blocks until it is over: no new turn is taken; turns
    /// still waiting end with [`TurnError::Closed`]; running turns run to their end, then
    /// every connection closes and the engine thread ends (joined here).
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
        wait(self.inner.close());
        let thread = self
            .engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // The driver returns once the pool is closed and its connections shut.
        if let Some(Err(panic)) = thread.map(JoinHandle::join) {
            std::panic::resume_unwind(panic);
        }
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
    inner: engine::PoolBuilder,
}

impl PoolBuilder {
    responses_ws_adapter::pool_limit_setters!("responses_ws_blocking", inner);

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
        self.inner.limits()
    }

    /// The pool, its engine thread started. Fails with [`ConnectError::Random`] when the OS
    /// random source fails, [`ConnectError::Io`] when the thread cannot start. TLS settings
    /// that do not make a configuration fail each dial instead ([`ConnectError::Tls`], the
    /// turns' error), as in the async pool.
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
        let (inner, driver) = self.inner.build()?;
        let thread = std::thread::Builder::new()
            .name(ENGINE_THREAD.into())
            .spawn(|| smol::block_on(driver))
            .map_err(|source| ConnectError::Io {
                addr: "the pool's engine thread".into(),
                source,
            })?;
        Ok(Pool {
            inner,
            engine: Arc::new(Mutex::new(Some(thread))),
        })
    }
}

// The handles move between threads, the pool's and conversations' shared (checked when
// compiling).
const _: () = {
    const fn handles<Shared: Send + Sync + Clone + 'static, Moved: Send + 'static>() {}
    handles::<(Pool, Conversation), Turn>();
};
