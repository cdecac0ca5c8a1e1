//! Durable conversations on the blocking pool, with a store in its [`Config`](crate::Config)
//! ([`Config::store`](crate::Config::store)): the async pool's calls —
//! [`Pool::conversation_with_id`], [`Pool::resume`], [`Pool::run_durable`] — waited for on the
//! caller's thread. The records are written after every input, in one store call for every
//! conversation it touched, before any byte goes out (`responses_ws_adapter::pool::PoolJournal`).

use responses_ws_core::session::ToolCall;
use responses_ws_core::wire::{Response, ResponseCreate, ToolOutput};

use super::conversation::ready;
use super::{wait, Conversation, Error, Pool, Turn};

/// A conversation taken over by [`Pool::resume`]: its [`Conversation`], its [`Turn`] when it
/// owed work, and what the store held ([`Start`](super::Start)).
///
/// ```
/// # use std::sync::Arc;
/// # use responses_ws_blocking::pool::{Pool, Resumption, Start};
/// # use responses_ws_blocking::{Config, MemoryStore, SharedStore};
/// let store: SharedStore = Arc::new(MemoryStore::default());
/// let config = Config::new("ws://127.0.0.1:8080/v1/responses")?.store(store, "worker-1");
/// let pool = Pool::new(config)?;
/// let Resumption { conversation, turn, start, .. } = pool.resume("conv-1")?;
/// assert_eq!((start, turn.is_none()), (Start::New, true)); // nothing stored, nothing owed
/// # drop(conversation);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Resumption = responses_ws_adapter::pool::Resumption<Conversation, Turn>;

impl Pool {
    /// A new durable conversation journaled as `id`, as the async pool's
    /// [`conversation_with_id`](responses_ws_futures::pool::Pool::conversation_with_id):
    /// refused without a store ([`Error::Store`]), while another worker holds `id`, and once
    /// the store has it ([`PoolError::AlreadyOpen`](super::PoolError::AlreadyOpen):
    /// [`resume`](Self::resume) it).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use responses_ws_blocking::pool::{Error, Pool, PoolError, Start};
    /// # use responses_ws_blocking::{Config, MemoryStore, ResponseCreate, SharedStore, ToolCall};
    /// # use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2))?;
    /// let store: SharedStore = Arc::new(MemoryStore::default());
    /// let pool = Pool::new(Config::new(&server.url())?.store(store, "worker-1"))?;
    /// let agent = pool.conversation_with_id("conv-42")?;
    /// let turn = agent.turn(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// assert_eq!(turn.finish()?.all_output_text(), "Hello!");
    /// let taken = pool.conversation_with_id("conv-42"); // its records are stored
    /// assert!(matches!(taken, Err(Error::Pool(PoolError::AlreadyOpen(_)))));
    /// pool.close();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn conversation_with_id(&self, id: &str) -> Result<Conversation, Error> {
        self.inner.conversation_with_id(id).map(Conversation::new)
    }

    /// Takes conversation `id` over (its lease) and rebuilds it from its records: calls
    /// with a durable output do not run again ([`Resumed::skipped`](super::Resumed::skipped)), the others are to be
    /// run again ([`Resumed::rerun`](super::Resumed::rerun), at-least-once), and its next request goes out with the
    /// full context. A conversation the store does not have starts new ([`Start::New`](super::Start::New)).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use responses_ws_blocking::pool::{Error, Pool, PoolError, Start};
    /// # use responses_ws_blocking::{Config, MemoryStore, ResponseCreate, SharedStore, ToolCall};
    /// # use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};
    /// let server = MockServer::start_in_thread(Script::new().text("Hello!", 2))?;
    /// let store: SharedStore = Arc::new(MemoryStore::default());
    /// let config = Config::new(&server.url())?.store(store, "worker-1");
    /// let first = Pool::new(config.clone())?;
    /// let request = ResponseCreate::new("gpt-5.5").input("Hi");
    /// first.run_durable("conv-42", request, |_call: &ToolCall| String::new())?;
    /// first.close();
    /// // Another pool (after a restart, in another process) takes the conversations over.
    /// let second = Pool::new(config)?;
    /// let Start::Resumed(resumed) = second.resume("conv-42")?.start else { panic!("stored") };
    /// assert_eq!(resumed.finished.unwrap().all_output_text(), "Hello!");
    /// // An id the store does not have starts new.
    /// assert_eq!(second.resume("conv-43")?.start, Start::New);
    /// second.close();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume(&self, id: &str) -> Result<Resumption, Error> {
        let resumed = self.inner.resume(id)?;
        Ok(resumed.map(Conversation::new, Turn::new))
    }

    /// Runs `request` as the durable conversation `id` to its final response, wherever it
    /// stopped (see the async pool's `run_durable`): calls whose output was not durable go
    /// to `handler` again, durable ones do not; a finished conversation returns its final
    /// response without sending anything.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use responses_ws_blocking::pool::{Error, Pool, PoolError, Start};
    /// # use responses_ws_blocking::{Config, MemoryStore, ResponseCreate, SharedStore, ToolCall};
    /// # use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};
    /// let add = ScriptedCall::new("add", r#"{"a":2,"b":3}"#);
    /// let server = MockServer::start_in_thread(Script::new().tool_calls([add]).text("5", 1))?;
    /// let store: SharedStore = Arc::new(MemoryStore::default());
    /// let config = Config::new(&server.url())?.store(store, "worker-1");
    /// let pool = Pool::new(config.clone())?;
    /// let request = ResponseCreate::new("gpt-5.5").input("What is 2 + 3?");
    /// let tool = |call: &ToolCall| format!("5 (call {})", call.call_id);
    /// assert_eq!(pool.run_durable("conv-42", request.clone(), tool)?.all_output_text(), "5");
    /// pool.close();
    /// // Run again with the same id (say, after a crash): it finished, nothing runs or is sent.
    /// let pool = Pool::new(config)?;
    /// let never = |_call: &ToolCall| -> String { unreachable!("stored") };
    /// assert_eq!(pool.run_durable("conv-42", request, never)?.all_output_text(), "5");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_durable<F, O>(
        &self,
        id: &str,
        request: ResponseCreate,
        handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(&ToolCall) -> O,
        O: Into<ToolOutput>,
    {
        wait(self.inner.run_durable(id, request, ready(handler)))
    }
}
