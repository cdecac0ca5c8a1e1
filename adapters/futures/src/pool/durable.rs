//! Durable conversations on the pool, with a store in its [`Config`](crate::Config)
//! ([`Config::store`](crate::Config::store)): [`Pool::conversation_with_id`] opens one,
//! [`Pool::resume`] takes one over (after a crash, in another process) and
//! [`Pool::run_durable`] runs a tool loop that survives both. The records are written by
//! the driver after every input, in one store call for every conversation it touched,
//! before any byte goes out (`responses_ws_adapter::pool::PoolJournal`).

use std::future::Future;
use std::sync::Arc;

use responses_ws_core::session::ToolCall;
use responses_ws_core::wire::{Response, ResponseCreate, ToolOutput};

use super::steps::DurableStep;
use super::{Conversation, Error, Pool, Turn};

/// A conversation taken over by [`Pool::resume`]: its [`Conversation`], its [`Turn`] when it
/// owed work, and what the store held ([`Start`](super::Start)).
///
/// ```
/// # use std::sync::Arc;
/// # use responses_ws_futures::pool::{Pool, Resumption, Start};
/// # use responses_ws_futures::runtime::Smol;
/// # use responses_ws_futures::{Config, MemoryStore, SharedStore};
/// let store: SharedStore = Arc::new(MemoryStore::default());
/// let config = Config::new("ws://127.0.0.1:8080/v1/responses")?.runtime(Smol).store(store, "worker-1");
/// let (pool, _driver) = Pool::new(config)?;
/// let Resumption { conversation, turn, start, .. } = pool.resume("conv-1")?;
/// assert_eq!((start, turn.is_none()), (Start::New, true)); // nothing stored, nothing owed
/// # drop(conversation);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Resumption = responses_ws_adapter::pool::Resumption<Conversation, Turn>;

impl Pool {
    /// A new durable conversation journaled as `id` (unique in the store, e.g. a UUID):
    /// its write-ahead records are stored before the bytes they describe go out, on
    /// whichever connection carries it, under this worker's lease (renewed as the pool
    /// runs). Refused without a store ([`Error::Store`]), while another worker holds `id`
    /// ([`StoreError::Held`](crate::StoreError::Held)), and when the store has it already
    /// ([`PoolError::AlreadyOpen`](super::PoolError::AlreadyOpen): [`resume`](Self::resume) it).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use responses_ws_futures::pool::{Error, Pool, PoolError, Start};
    /// # use responses_ws_futures::runtime::Smol;
    /// # use responses_ws_futures::{Config, MemoryStore, ResponseCreate, SharedStore, ToolCall};
    /// # use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2))?;
    /// let store: SharedStore = Arc::new(MemoryStore::default());
    /// let config = Config::new(&server.url())?.runtime(Smol).store(store, "worker-1");
    /// smol::block_on(async {
    /// let (pool, driver) = Pool::new(config)?;
    /// smol::spawn(driver).detach();
    /// let agent = pool.conversation_with_id("conv-42")?;
    /// let turn = agent.turn(ResponseCreate::new("gpt-5.5").input("Hi")).await?;
    /// assert_eq!(turn.finish().await?.all_output_text(), "Hello!");
    /// // Its records are in the store now: the id is taken.
    /// let again = pool.conversation_with_id("conv-42");
    /// assert!(matches!(again, Err(Error::Pool(PoolError::AlreadyOpen(_)))));
    /// pool.close().await;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn conversation_with_id(&self, id: &str) -> Result<Conversation, Error> {
        let conv = self.inner.lock.with(|shared, _| shared.open_durable(id))?;
        Ok(Conversation::new(Arc::clone(&self.inner), conv))
    }

    /// Takes conversation `id` over (its lease: [`StoreError::Held`](crate::StoreError::Held) while another worker's
    /// runs) and rebuilds it from its records: calls with a durable output do not run
    /// again ([`Resumed::skipped`](super::Resumed::skipped)), the others are to be run again
    /// ([`Resumed::rerun`](super::Resumed::rerun), at-least-once: tools should be idempotent by `call_id`), and its
    /// next request goes out with the full context. A conversation the store does not have
    /// starts new ([`Start::New`](super::Start::New)).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use responses_ws_futures::pool::{Error, Pool, PoolError, Start};
    /// # use responses_ws_futures::runtime::Smol;
    /// # use responses_ws_futures::{Config, MemoryStore, ResponseCreate, SharedStore, ToolCall};
    /// # use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2))?;
    /// let store: SharedStore = Arc::new(MemoryStore::default());
    /// let config = Config::new(&server.url())?.runtime(Smol).store(store, "worker-1");
    /// smol::block_on(async {
    /// let (first, driver) = Pool::new(config.clone())?;
    /// smol::spawn(driver).detach();
    /// let request = ResponseCreate::new("gpt-5.5").input("Hi");
    /// first.run_durable("conv-42", request, |_call: ToolCall| async { String::new() }).await?;
    /// first.close().await;
    /// // Another pool (after a restart, in another process) takes the conversations over.
    /// let (second, driver) = Pool::new(config)?;
    /// smol::spawn(driver).detach();
    /// let Start::Resumed(resumed) = second.resume("conv-42")?.start else { panic!("stored") };
    /// assert_eq!(resumed.finished.unwrap().all_output_text(), "Hello!");
    /// // An id the store does not have starts new.
    /// assert_eq!(second.resume("conv-43")?.start, Start::New);
    /// second.close().await;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume(&self, id: &str) -> Result<Resumption, Error> {
        let (conv, turn, start) = self
            .inner
            .lock
            .with(|shared, now| shared.resume_durable(id, now))?;
        let conversation = Conversation::new(Arc::clone(&self.inner), conv);
        let turn = turn.map(|turn| Turn::new(conversation.clone(), turn));
        Ok(Resumption::new(conversation, turn, start))
    }

    /// Runs `request` as the durable conversation `id` to its final response, wherever it
    /// stopped: new, it runs as [`Conversation::run_tool_loop`]; resumed, the calls whose
    /// output was not durable go to `handler` again, durable ones do not, and a finished
    /// conversation returns its final response without sending anything.
    ///
    /// After `handler`'s output for a call is taken, it is durable: a crash then does not
    /// run that call again.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use responses_ws_futures::pool::{Error, Pool, PoolError, Start};
    /// # use responses_ws_futures::runtime::Smol;
    /// # use responses_ws_futures::{Config, MemoryStore, ResponseCreate, SharedStore, ToolCall};
    /// # use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};
    /// let add = ScriptedCall::new("add", r#"{"a":2,"b":3}"#);
    /// let server = MockServer::start_in_thread(Script::new().tool_calls([add]).text("5", 1))?;
    /// let store: SharedStore = Arc::new(MemoryStore::default());
    /// let config = Config::new(&server.url())?.runtime(Smol).store(store, "worker-1");
    /// smol::block_on(async {
    /// let (pool, driver) = Pool::new(config.clone())?;
    /// smol::spawn(driver).detach();
    /// let request = ResponseCreate::new("gpt-5.5").input("What is 2 + 3?");
    /// let tool = |call: ToolCall| async move { format!("5 (call {})", call.call_id) };
    /// let response = pool.run_durable("conv-42", request.clone(), tool).await?;
    /// assert_eq!(response.all_output_text(), "5");
    /// pool.close().await;
    /// // Run again with the same id (say, after a crash): it finished, nothing runs or is sent.
    /// let (pool, driver) = Pool::new(config)?;
    /// smol::spawn(driver).detach();
    /// let never = |_call: ToolCall| -> std::future::Ready<String> { unreachable!("stored") };
    /// assert_eq!(pool.run_durable("conv-42", request, never).await?.all_output_text(), "5");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn run_durable<F, Fut, O>(
        &self,
        id: &str,
        request: ResponseCreate,
        mut handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(ToolCall) -> Fut,
        Fut: Future<Output = O>,
        O: Into<ToolOutput>,
    {
        let Resumption {
            conversation,
            turn,
            start,
            ..
        } = self.resume(id)?;
        match DurableStep::of(start, turn)? {
            DurableStep::Fresh => conversation.run_tool_loop(request, handler).await,
            DurableStep::Finished(response) => Ok(*response),
            DurableStep::Rerun { calls, turn } => {
                conversation.answer(calls, &mut handler).await?;
                conversation.drive_tool_loop(turn, &mut handler).await
            }
        }
    }
}
