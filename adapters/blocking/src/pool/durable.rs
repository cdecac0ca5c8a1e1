//! Durable conversations on the blocking pool, with a store in its [`Config`](crate::Config)
//! ([`Config::store`](crate::Config::store)): the async pool's calls —
//! [`Pool::conversation_with_id`], [`Pool::resume`], [`Pool::run_durable`] — waited for on the
//! caller's thread. The records are written after every input, in one store call for every
//! conversation it touched, before any byte goes out (`responses_ws_adapter::pool::PoolJournal`).

use responses_ws_adapter::Start;
use responses_ws_core::session::ToolCall;
use responses_ws_core::wire::{Response, ResponseCreate, ToolOutput};

use super::conversation::ready;
use super::{wait, Conversation, Error, Pool, Turn};

/// A conversation taken over by [`Pool::resume`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Resumption {
    /// The conversation, journaled on under its id.
    pub conversation: Conversation,
    /// Its turn, when it owed work (a request, or tool calls to answer): it resumed at
    /// once. Answer [`Resumed::rerun`](super::Resumed::rerun) with
    /// [`submit_tool_output`](Conversation::submit_tool_output), then read the turn.
    pub turn: Option<Turn>,
    /// What the store held: nothing ([`Start::New`]), or what was rebuilt.
    pub start: Start,
}

impl Pool {
    /// A new durable conversation journaled as `id` (unique in the store): its write-ahead
    /// records are stored before the bytes they describe go out, on whichever connection
    /// carries it, under this worker's lease. Refused without a store ([`Error::Store`]),
    /// while another worker holds `id`, and when the store has it already
    /// ([`PoolError::AlreadyOpen`](super::PoolError::AlreadyOpen): [`resume`](Self::resume) it).
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
    /// // Its records are in the store now: the id is taken.
    /// let again = pool.conversation_with_id("conv-42");
    /// assert!(matches!(again, Err(Error::Pool(PoolError::AlreadyOpen(_)))));
    /// pool.close();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn conversation_with_id(&self, id: &str) -> Result<Conversation, Error> {
        self.inner.conversation_with_id(id).map(Conversation::new)
    }

    /// Takes conversation `id` over (its lease) and rebuilds it from its records: calls
    /// with a durable output do not run again ([`Resumed::skipped`](super::Resumed::skipped)), the others are to be
    /// run again ([`Resumed::rerun`](super::Resumed::rerun), at-least-once), and its next request goes out with the
    /// full context. A conversation the store does not have starts new ([`Start::New`]).
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
        Ok(Resumption {
            conversation: Conversation::new(resumed.conversation),
            turn: resumed.turn.map(Turn::new),
            start: resumed.start,
        })
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
        mut handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(&ToolCall) -> O,
        O: Into<ToolOutput>,
    {
        wait(self.inner.run_durable(id, request, ready(&mut handler)))
    }
}
