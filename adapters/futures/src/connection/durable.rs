//! Durable conversations on a [`Connection`] with a store ([`Config::store`](crate::Config)):
//! [`run_durable`](Connection::run_durable) runs a tool loop that survives a crash of the
//! process, [`journal`](Connection::journal) and [`resume`](Connection::resume) are its
//! parts. The write-ahead itself (records stored before bytes are written) is in the
//! driver's write steps, WebSocket mode's and HTTP's alike.

use std::future::Future;

use responses_ws_adapter::{DurableRun, Resumed, ToolRun};
use responses_ws_core::session::{Lane, ToolCall};
use responses_ws_core::wire::{Response, ResponseCreate, ToolOutput};

use super::tool_loop::Handler;
use super::Connection;
use crate::Error;

impl Connection {
    /// Journals `lane`'s conversation as `conversation` in the configured store (taking
    /// its lease): from now on what the lane sends is stored before it goes out, and each
    /// tool output is durable when `submit_tool_output` returns. The lane must be new.
    pub fn journal(&mut self, lane: &Lane, conversation: &str) -> Result<(), Error> {
        self.state.journal(lane, conversation)
    }

    /// Takes conversation `conversation` over from the store (a crashed worker's, after its
    /// lease expired, or this process's before a restart) and puts it on `lane`: tool calls
    /// whose outputs are durable are not run again ([`Resumed::skipped`]); the others are
    /// waiting on the lane ([`Resumed::rerun`]: answer them with `submit_tool_output`, at
    /// least once each); the request the conversation owed, or the continuation once the
    /// calls are answered, goes out with its full context on this connection (or chains,
    /// with `store: true`).
    pub async fn resume(&mut self, lane: &Lane, conversation: &str) -> Result<Resumed, Error> {
        self.send(false, |state| state.resume(lane, conversation))
            .await
    }

    /// Runs `request` as the durable conversation `conversation` to its final response, as
    /// [`run_tool_loop`](Self::run_tool_loop) does; or, when the store already has the
    /// conversation, resumes it ([`resume`](Self::resume)) on the lane of
    /// `request.stream_id` and goes on from where it stopped: calls whose output is not
    /// durable go to `handler` again (with their `call_id`), durable ones do not, and a
    /// finished conversation returns its final response without sending anything.
    /// `request`'s input is sent only if it never was stored.
    ///
    /// When it returns its final response, the lease is released: another worker may take
    /// the conversation on at once.
    ///
    /// **At-least-once**: a handler may see a call twice when the process died after the
    /// handler ran and before its output was stored; make tools idempotent by `call_id`.
    /// Every output stored reaches the server in exactly one continuation per response.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use responses_ws_futures::{Config, Connection, FileStore, ResponseCreate, ToolCall};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = Arc::new(FileStore::open("conversations.sqlite")?);
    /// let config = Config::new("ws://127.0.0.1:8080/v1/responses")?.store(store, "worker-1");
    /// let mut conn = Connection::connect(config).await?;
    /// let request = ResponseCreate::new("gpt-5.5").input("What is 2 + 3?");
    /// // Run again after a crash with the same id: it continues where it stopped.
    /// let response = conn
    ///     .run_durable("conv-42", request, |call: ToolCall| async move { format!("ran {}", call.call_id) })
    ///     .await?;
    /// println!("{}", response.all_output_text());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_durable<F, Fut, O>(
        &mut self,
        conversation: &str,
        request: ResponseCreate,
        handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(ToolCall) -> Fut,
        Fut: Future<Output = O>,
        O: Into<ToolOutput>,
    {
        let response = self.drive_durable(conversation, request, handler).await?;
        self.flush().await;
        self.state.store_result()?;
        self.state.release(conversation)?;
        Ok(response)
    }

    /// [`run_durable`](Self::run_durable) up to its final response.
    async fn drive_durable(
        &mut self,
        conversation: &str,
        request: ResponseCreate,
        mut handler: impl Handler,
    ) -> Result<Response, Error> {
        let run = self.send(false, |state| {
            DurableRun::start(state, conversation, request)
        });
        match run.await? {
            DurableRun::Send(request) => {
                let create = self.send(true, |state| ToolRun::create(state, request));
                let run = create.await?;
                self.drive_tool_loop(run, handler).await
            }
            DurableRun::Finished(response) => Ok(*response),
            DurableRun::Resume { mut run, rerun } => {
                self.answer(&mut run, rerun, &mut handler).await?;
                self.drive_tool_loop(run, handler).await
            }
        }
    }
}
