//! The scripted model: turns one create request into the plan of one response — placing the
//! request in its conversation, warm-ups, per-turn faults — and keeps the store of
//! `store: true` responses. Shared by the WebSocket machine and the HTTP responder; knows
//! nothing of lanes, queues or transports.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::cache::ResponseStore;
use super::conversation::{self, Conversation};
use super::cost::Found;
use super::errors::{self, Rejection};
use super::faults::{on_connection, FaultOutcome};
use super::ids::IdGen;
use super::plan::{self, Generation, Planned};
use super::script::{Script, Step};
use crate::time::Instant;
use crate::wire::{ApiError, Includable, ResponseCreate};

/// `created_at` of a response at `Instant::ZERO` (Unix seconds, 2026-02-23): the core reads no
/// clock, so timestamps are this origin plus the driver's elapsed time.
pub(crate) const UNIX_ORIGIN: u64 = 1_771_850_000;

/// The model of one connection (or of one HTTP responder).
#[derive(Debug)]
pub(crate) struct Model {
    /// The script it plays.
    pub(crate) script: Script,
    /// The connection's index (fault filters, id scope).
    pub(crate) connection: u32,
    /// Id source.
    pub(crate) ids: IdGen,
    /// `store: true` responses.
    pub(crate) store: ResponseStore,
    /// Responses started so far (warm-ups included).
    pub(crate) started: u32,
    /// Requests hit so far by each turn fault, by position in `script.faults.turns`.
    hits: Vec<u32>,
}

/// Why a request does not start.
#[derive(Debug)]
pub(crate) enum NotStarted {
    /// It is answered with an `error` event (an HTTP error status over HTTP).
    Rejected(Rejection),
    /// The server closes the connection with this code instead (a
    /// [`FaultOutcome::Close`]).
    Closed {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
}

impl From<Rejection> for NotStarted {
    fn from(rejection: Rejection) -> Self {
        NotStarted::Rejected(rejection)
    }
}

/// A response that starts.
#[derive(Debug)]
pub(crate) struct Begun {
    /// Its id.
    pub(crate) id: String,
    /// Its events, terminal last.
    pub(crate) events: Vec<Planned>,
    /// What to remember once it has completed; `None` when it fails.
    pub(crate) result: Option<Conversation>,
    /// Whether it is stored (`store` absent or true).
    pub(crate) store: bool,
    /// A [`FaultOutcome::Stall`]: `events` is only `response.created`, and nothing follows.
    pub(crate) stalls: bool,
    /// A multi-agent response whose step made calls: `events` end with them (no terminal),
    /// and it waits for their outputs.
    pub(crate) waiting: Option<Generation>,
}

impl Model {
    /// The model of connection `connection`.
    pub(crate) fn new(script: Script, connection: u32) -> Self {
        Model {
            hits: vec![0; script.faults.turns.len()],
            store: ResponseStore::new(script.limits.max_stored),
            script,
            connection,
            ids: IdGen::new(connection),
            started: 0,
        }
    }

    /// Plans the response to `request`, which continues `parent` (already resolved by the
    /// caller, found where the [`Found`] says), with the script's server cost in its delays.
    /// With `waits` (a multi-agent request on a connection with the beta), a step with calls
    /// ends the plan without a terminal: the response waits ([`Begun::waiting`]).
    /// An `Err` is a request that never starts, and why.
    pub(crate) fn begin(
        &mut self,
        request: &ResponseCreate,
        parent: Option<(&Conversation, Found)>,
        waits: bool,
        now: Instant,
    ) -> Result<Begun, NotStarted> {
        let found = parent.map(|(_, found)| found);
        let parent = parent.map(|(conversation, _)| conversation);
        let placed = conversation::continue_from(parent, request.input.as_ref())?;
        let warm_up = request.generate == Some(false);
        let fault = match warm_up {
            true => None,
            false => self.fault_at(placed.turn),
        };
        match fault {
            Some(FaultOutcome::Error {
                status,
                error_type,
                code,
                message,
            }) => {
                let error_type = error_type.as_deref().unwrap_or(match status {
                    500.. => "server_error",
                    _ => "invalid_request_error",
                });
                let error = errors::api_error(status, error_type, Some(&code), message, None);
                return Err(NotStarted::Rejected(error));
            }
            Some(FaultOutcome::Close { code, reason }) => {
                return Err(NotStarted::Closed { code, reason })
            }
            _ => {}
        }
        let stalls = fault == Some(FaultOutcome::Stall);
        let id = self.ids.next("resp");
        self.started = self.started.saturating_add(1);
        let created_at = UNIX_ORIGIN.saturating_add(now.elapsed().as_secs());
        let response = plan::snapshot(request, id.clone(), created_at);
        let mut waiting = None;
        let (mut events, result) = match fault {
            _ if warm_up => {
                let result = Conversation {
                    id: id.clone(),
                    turns: placed.turn,
                    pending: Vec::new(),
                    context_tokens: placed.input_tokens,
                };
                (plan::warm_up(response), Some(result))
            }
            Some(FaultOutcome::Failed { code, message }) => {
                let error = ApiError {
                    code: Some(code),
                    message,
                    ..ApiError::default()
                };
                (plan::failed(response, error), None)
            }
            _ => {
                let include_encrypted = request.include.as_ref().is_some_and(|include| {
                    include.contains(&Includable::ReasoningEncryptedContent)
                });
                let step = self.script.step(placed.turn);
                let waits = waits && matches!(step, Step::Calls { .. });
                let delta_delay = self.script.delta_delay;
                let (mut generation, mut events) =
                    Generation::start(response, placed, delta_delay, include_encrypted);
                events.extend(generation.play(step, &mut self.ids));
                if waits {
                    waiting = Some(generation);
                    (events, None)
                } else {
                    let (completed, output_tokens) = generation.complete();
                    events.push(completed);
                    let pending = core::mem::take(&mut generation.pending);
                    let result = generation.conversation(id.clone(), output_tokens, pending);
                    (events, Some(result))
                }
            }
        };
        if stalls {
            events.truncate(1);
        }
        plan::charge(
            &mut events,
            &self.script.server_cost,
            placed.input_bytes,
            found,
        );
        Ok(Begun {
            id,
            events,
            result: result.filter(|_| !stalls),
            store: request.store != Some(false),
            stalls,
            waiting,
        })
    }

    /// The events of the next step of a multi-agent response whose calls were all answered.
    pub(crate) fn resume(&mut self, generation: &mut Generation) -> Vec<Planned> {
        let step = self.script.step(generation.next_turn());
        generation.play(step, &mut self.ids)
    }

    /// The fault that hits this request of `turn`, if any (counting the hit).
    fn fault_at(&mut self, turn: u32) -> Option<FaultOutcome> {
        let connection = self.connection;
        let (index, fault) =
            self.script
                .faults
                .turns
                .iter()
                .enumerate()
                .find(|(index, fault)| {
                    fault.turn == turn
                        && on_connection(fault.connection, connection)
                        && fault.times.is_none_or(|times| {
                            self.hits.get(*index).is_some_and(|hits| *hits < times)
                        })
                })?;
        if let Some(hits) = self.hits.get_mut(index) {
            *hits += 1;
        }
        Some(fault.outcome.clone())
    }

    /// Remembers a completed response in the store, when it asked to be stored.
    pub(crate) fn remember(&mut self, result: &Conversation, store: bool) {
        if store {
            self.store.insert(result.clone());
        }
    }
}
