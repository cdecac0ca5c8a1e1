//! One lane of a WebSocket connection: its FIFO of waiting creates and the response it is
//! streaming. A streaming response sends its planned events one at a time, each once its time
//! has come, stamping the lane's `stream_id` and the response's own `sequence_number`; a
//! multi-agent one may then wait for injected tool outputs before it plans more.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::cache::LaneKey;
use super::conversation::Conversation;
use super::inject::Waiting;
use super::model::Begun;
use super::plan::Planned;
use crate::time::Instant;
use crate::wire::{EventKind, Input, ResponseCreate};

/// A lane: waiting creates and at most one streaming response.
#[derive(Debug, Default)]
pub(crate) struct Lane {
    /// Creates not started yet, oldest first.
    pub(crate) queue: VecDeque<Queued>,
    /// The response streaming on this lane.
    pub(crate) active: Option<Box<Active>>,
}

/// A create waiting for its lane and a free in-flight slot.
#[derive(Debug)]
pub(crate) struct Queued {
    /// Arrival order on the connection (0 for a steering successor, which goes first).
    pub(crate) arrival: u64,
    /// The request.
    pub(crate) request: Box<ResponseCreate>,
}

/// The response a request continues, as resolved when it started.
#[derive(Debug)]
pub(crate) struct ParentRef {
    /// Its id.
    pub(crate) id: String,
    /// Whether it was the latest response of the request's own lane (a failure then evicts
    /// it; a failed fork from another lane does not).
    pub(crate) same_lane: bool,
}

/// Steering input accepted for a streaming response.
#[derive(Debug)]
pub(crate) struct AcceptedSteer {
    /// The steer's id.
    pub(crate) id: String,
    /// Its input, for the successor.
    pub(crate) input: Input,
}

/// A response that is streaming.
#[derive(Debug)]
pub(crate) struct Active {
    /// Its id.
    pub(crate) id: String,
    /// Echoed on every event; `None` on the default lane.
    stream_id: LaneKey,
    next_sequence: u64,
    events: VecDeque<Planned>,
    /// When the next event may be sent.
    next_at: Instant,
    /// What to remember once it has completed; `None` when it fails.
    pub(crate) result: Option<Conversation>,
    /// Whether it is stored.
    pub(crate) store: bool,
    /// The response it continues.
    pub(crate) parent: Option<ParentRef>,
    /// The request, whose settings a steering successor inherits.
    pub(crate) request: Box<ResponseCreate>,
    /// Accepted steering input.
    pub(crate) steer: Option<AcceptedSteer>,
    /// Its last planned event is not the last: the connection falls silent after it.
    pub(crate) stalls: bool,
    /// Multi-agent: it waits for the outputs of its calls once its events are sent.
    pub(crate) waiting: Option<Box<Waiting>>,
    /// Multi-agent: the agent name its verdict frames carry.
    pub(crate) agent: Option<String>,
}

impl Active {
    /// Starts streaming `begun` at `now`; a waiting one waits up to `wait` once its events
    /// are sent, and its frames name `agent`.
    pub(crate) fn new(
        begun: Begun,
        stream_id: LaneKey,
        parent: Option<ParentRef>,
        request: Box<ResponseCreate>,
        now: Instant,
        (wait, agent): (Duration, Option<String>),
    ) -> Self {
        let events: VecDeque<Planned> = begun.events.into();
        let first_delay = events.front().map(|event| event.delay).unwrap_or_default();
        Active {
            id: begun.id,
            stream_id,
            next_sequence: 0,
            events,
            next_at: now + first_delay,
            result: begun.result,
            store: begun.store,
            parent,
            request,
            steer: None,
            stalls: begun.stalls,
            waiting: (begun.waiting).map(|generation| Box::new(Waiting::new(generation, wait))),
            agent,
        }
    }

    /// Whether the next event may be sent at `now`.
    pub(crate) fn is_ready(&self, now: Instant) -> bool {
        !self.events.is_empty() && self.next_at <= now
    }

    /// When the next event may be sent, if one is left; else, when a waiting response stops
    /// waiting.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.events.is_empty() {
            false => Some(self.next_at),
            true => self.waiting.as_ref()?.until,
        }
    }

    /// Whether every event has been sent, the terminal included.
    pub(crate) fn is_done(&self) -> bool {
        self.events.is_empty() && self.waiting.is_none()
    }

    /// Whether it waited for tool outputs until `now` in vain: its events are sent and its
    /// wait is over.
    pub(crate) fn wait_is_over(&self, now: Instant) -> bool {
        let until = self.waiting.as_ref().and_then(|waiting| waiting.until);
        self.events.is_empty() && until.is_some_and(|until| until <= now)
    }

    /// Plans more events (a waiting response goes on), the first one after its delay from
    /// `now` if nothing was left to send.
    pub(crate) fn extend(&mut self, events: Vec<Planned>, now: Instant) {
        if self.events.is_empty() {
            let first = events.first().map(|event| event.delay).unwrap_or_default();
            self.next_at = now + first;
        }
        self.events.extend(events);
    }

    /// Completes a waiting response now with the output it has (its unanswered calls are
    /// owed by the next request).
    pub(crate) fn stop_waiting(&mut self, now: Instant) {
        let Some(waiting) = self.waiting.take() else {
            return;
        };
        let unanswered = waiting.unanswered();
        let mut generation = waiting.generation;
        let (completed, output_tokens) = generation.complete();
        self.result = Some(generation.conversation(self.id.clone(), output_tokens, unanswered));
        self.extend(vec![completed], now);
    }

    /// The next planned event as a frame; schedules the one after it (or, after the last
    /// one of a waiting response, starts the wait).
    pub(crate) fn emit(&mut self) -> Option<String> {
        let planned = self.events.pop_front()?;
        match (self.events.front(), &mut self.waiting) {
            (Some(next), _) => self.next_at = self.next_at + next.delay,
            (None, Some(waiting)) => waiting.started(self.next_at),
            (None, None) => {}
        }
        Some(self.stamped(|stream_id, sequence| planned.to_json(stream_id, sequence)))
    }

    /// `kind` as a frame of this response: its lane and its next sequence number.
    pub(crate) fn frame(&mut self, kind: EventKind<'_>) -> String {
        self.stamped(|stream_id, sequence| kind.to_json_with(stream_id, sequence))
    }

    /// The frame `write` makes with this response's envelope: its lane and its next sequence
    /// number.
    fn stamped(&mut self, write: impl FnOnce(Option<&str>, Option<u64>) -> String) -> String {
        let frame = write(self.stream_id.as_deref(), Some(self.next_sequence));
        self.next_sequence += 1;
        frame
    }
}
