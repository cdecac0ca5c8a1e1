//! Durable conversations on the blocking pool, with a store in its [`Config`](crate::Config)
//! ([`Config::store`](crate::Config::store)): the same calls as the async pool's —
//! [`Pool::conversation_with_id`], [`Pool::resume`], [`Pool::run_durable`]. The records are
//! written after every input, in one store call for every conversation it touched, before
//! any byte goes out (`responses_ws_adapter::pool::PoolJournal`).

use std::sync::Arc;

use responses_ws_adapter::pool::PoolJournal;
use responses_ws_adapter::{Resumed, Start};
use responses_ws_core::session::ToolCall;
use responses_ws_core::wire::{Response, ResponseCreate, ToolOutput};

use super::{Conversation, Error, Pool, Turn};

/// A conversation taken over by [`Pool::resume`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Resumption {
    /// The conversation, journaled on under its id.
    pub conversation: Conversation,
    /// Its turn, when it owed work (a request, or tool calls to answer): it resumed at
    /// once. Answer [`Resumed::rerun`] with
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
    pub fn conversation_with_id(&self, id: &str) -> Result<Conversation, Error> {
        let conv = self.inner.hub.with(|state, _| {
            PoolJournal::required(&mut state.journal)?.open(&mut state.pool, id)
        })?;
        Ok(Conversation::new(Arc::clone(&self.inner), conv))
    }

    /// Takes conversation `id` over (its lease) and rebuilds it from its records: calls
    /// with a durable output do not run again ([`Resumed::skipped`]), the others are to be
    /// run again ([`Resumed::rerun`], at-least-once), and its next request goes out with the
    /// full context. A conversation the store does not have starts new ([`Start::New`]).
    pub fn resume(&self, id: &str) -> Result<Resumption, Error> {
        let (conv, turn, start) = self.inner.hub.with(|state, now| {
            let journal = PoolJournal::required(&mut state.journal)?;
            let (conv, turn, start) = journal.resume(&mut state.pool, id, now)?;
            if let Some(turn) = turn {
                state.mailboxes.start(conv, turn);
            }
            Ok::<_, Error>((conv, turn, start))
        })?;
        let conversation = Conversation::new(Arc::clone(&self.inner), conv);
        let turn = turn.map(|turn| Turn::new(conversation.clone(), turn));
        Ok(Resumption {
            conversation,
            turn,
            start,
        })
    }

    /// Runs `request` as the durable conversation `id` to its final response, wherever it
    /// stopped (see the async pool's `run_durable`): calls whose output was not durable go
    /// to `handler` again, durable ones do not; a finished conversation returns its final
    /// response without sending anything.
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
        let Resumption {
            conversation,
            turn,
            start,
        } = self.resume(id)?;
        let resumed = match start {
            Start::Resumed(resumed) if resumed.started => resumed,
            _ => return conversation.run_tool_loop(request, handler),
        };
        let Resumed {
            rerun, finished, ..
        } = resumed;
        if let Some(response) = finished {
            return Ok(*response);
        }
        let Some(turn) = turn else {
            return Err(Error::NoResponse);
        };
        for call in &rerun {
            let output = handler(call);
            conversation.submit_tool_output(&call.call_id, output)?;
        }
        conversation.drive_tool_loop(turn, &mut handler)
    }
}
