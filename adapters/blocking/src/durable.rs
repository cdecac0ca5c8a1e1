//! Durable conversations on a [`Connection`] with a store ([`Config::store`](crate::Config)):
//! [`run_durable`](Connection::run_durable) runs a tool loop that survives a crash of the
//! process, [`journal`](Connection::journal) and [`resume`](Connection::resume) are its
//! parts. The write-ahead itself (records stored before bytes are written) is in the
//! connection's write steps, WebSocket mode's and HTTP's alike.

use responses_ws_adapter::{DurableRun, Resumed, ToolRun};
use responses_ws_core::session::{Lane, ToolCall};
use responses_ws_core::wire::{Response, ResponseCreate, ToolOutput};

use crate::connection::Connection;
use crate::tool_loop::Handler;
use crate::Error;

impl Connection {
    /// Journals `lane`'s conversation as `conversation` in the configured store (taking
    /// its lease): from now on what the lane sends is stored before it goes out, and each
    /// tool output is durable when `submit_tool_output` returns. The lane must be new.
    pub fn journal(&mut self, lane: &Lane, conversation: &str) -> Result<(), Error> {
        self.state.journal(lane, conversation)
    }

    /// Takes conversation `conversation` over from the store and puts it on `lane`: calls
    /// whose outputs are durable are not run again ([`Resumed::skipped`]); the others wait
    /// on the lane ([`Resumed::rerun`]: answer them with `submit_tool_output`, at least once
    /// each); the request the conversation owed, or the continuation once the calls are
    /// answered, goes out with its full context (or chains, with `store: true`).
    pub fn resume(&mut self, lane: &Lane, conversation: &str) -> Result<Resumed, Error> {
        self.send(false, |state| state.resume(lane, conversation))
    }

    /// Runs `request` as the durable conversation `conversation` to its final response, as
    /// [`run_tool_loop`](Self::run_tool_loop) does; or, when the store already has the
    /// conversation, resumes it on the lane of `request.stream_id` and goes on from where it
    /// stopped: calls whose output is not durable go to `handler` again (with their
    /// `call_id`), durable ones do not, and a finished conversation returns its final
    /// response without sending anything. `request`'s input is sent only if it never was
    /// stored.
    ///
    /// When it returns its final response, the lease is released: another worker may take
    /// the conversation on at once.
    ///
    /// **At-least-once**: a handler may see a call twice when the process died after the
    /// handler ran and before its output was stored; make tools idempotent by `call_id`.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use responses_ws_blocking::{Config, Connection, FileStore, ResponseCreate};
    ///
    /// let store = Arc::new(FileStore::open("conversations.sqlite")?);
    /// let config = Config::new("ws://127.0.0.1:8080/v1/responses")?.store(store, "worker-1");
    /// let mut conn = Connection::connect(config)?;
    /// let request = ResponseCreate::new("gpt-5.5").input("What is 2 + 3?");
    /// let response = conn.run_durable("conv-42", request, |call| format!("ran {}", call.call_id))?;
    /// println!("{}", response.all_output_text());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_durable<F, O>(
        &mut self,
        conversation: &str,
        request: ResponseCreate,
        handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(&ToolCall) -> O,
        O: Into<ToolOutput>,
    {
        let response = self.drive_durable(conversation, request, handler)?;
        self.flush();
        self.state.store_result()?;
        self.state.release(conversation)?;
        Ok(response)
    }

    /// [`run_durable`](Self::run_durable) up to its final response.
    fn drive_durable(
        &mut self,
        conversation: &str,
        request: ResponseCreate,
        mut handler: impl Handler,
    ) -> Result<Response, Error> {
        let run = self.send(false, |state| {
            DurableRun::start(state, conversation, request)
        })?;
        match run {
            DurableRun::Send(request) => {
                let run = self.send(true, |state| ToolRun::create(state, request))?;
                self.drive_tool_loop(run, handler)
            }
            DurableRun::Finished(response) => Ok(*response),
            DurableRun::Resume { mut run, rerun } => {
                self.answer(&mut run, rerun, &mut handler)?;
                self.drive_tool_loop(run, handler)
            }
        }
    }
}
