//! [`MockConnection`]: the server side of one Responses WebSocket connection, as a sans-IO
//! state machine on text frames. It owns the connection-level rules of protocol.md §2: lanes
//! (`stream_id`) and their limits, the in-flight limit and queueing, the per-lane cache,
//! steering, the age limit and the connection-level faults. What a response contains comes from
//! the shared [`Model`]; the WebSocket framing is the driver's (`ws::Connection`, server role).

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Bound;

use super::cache::{LaneCache, LaneKey, ResponseStore};
use super::conversation::Conversation;
use super::cost::Found;
use super::errors::{self, Rejection};
use super::faults::{on_connection, AgeNotice};
use super::inject;
use super::lanes::{AcceptedSteer, Active, Lane, ParentRef, Queued};
use super::model::{Model, NotStarted};
use super::script::Script;
use super::steer;
use super::traffic::Traffic;
use crate::time::Instant;
use crate::wire::{
    is_valid_stream_id, ClientEvent, ResponseCreate, ResponseInject, ResponseSteer, ServerEvent,
};
use crate::ws::{CloseCode, Header};

/// What the driver must do to the transport, besides writing frames.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Close the WebSocket with this code and reason (every frame polled before is sent
    /// first).
    Close {
        /// The close code.
        code: CloseCode,
        /// The close reason.
        reason: String,
    },
    /// Drop the transport abruptly once the frames polled before are written: no close
    /// frame, no further bytes.
    Drop,
    /// Write these bytes to the transport as they are, outside the WebSocket framing (a
    /// [`ProtocolBreak`](super::ProtocolBreak)), after the frames polled before; then serve
    /// nothing more but keep the WebSocket as it is, so the client's close is answered.
    SendRaw(Vec<u8>),
}

/// A `previous_response_id` resolved when its request starts.
#[derive(Debug)]
struct Resolved {
    conversation: Conversation,
    /// Whether it is the latest response of the request's own lane.
    same_lane: bool,
    found: Found,
}

/// Where the connection stands.
#[derive(Debug)]
enum State {
    Open,
    /// Silent: every input is ignored and nothing more is sent (a stalled response or a broken
    /// protocol); the driver's WebSocket still answers pings and closes.
    Silent,
    /// The connection ends with this action once the queued frames are taken.
    Ending(Action),
    Finished,
}

/// The scripted server side of one WebSocket connection, on text frames.
///
/// Driving contract: feed each client text frame to [`handle_text`](Self::handle_text) and
/// timer expiries to [`handle_timeout`](Self::handle_timeout); after any input drain
/// [`poll_transmit`](Self::poll_transmit) (send each frame as a text message), then
/// [`poll_action`](Self::poll_action), then arm a timer for
/// [`poll_timeout`](Self::poll_timeout). Before accepting the upgrade, ask
/// [`Script::upgrade`]; honour [`is_reading`](Self::is_reading).
///
/// ```
/// use responses_ws_core::mock::{MockConnection, Script};
/// use responses_ws_core::wire::{EventKind, ServerEvent};
/// use responses_ws_core::Instant;
///
/// let script = Script::new().text("Hello there!", 2);
/// let mut server = MockConnection::new(script, 0, Instant::ZERO);
/// server.handle_text(
///     r#"{"type":"response.create","model":"gpt-5.5","store":false,"input":"Hi"}"#,
///     Instant::ZERO,
/// );
///
/// let (mut types, mut text) = (Vec::new(), String::new());
/// while let Some(frame) = server.poll_transmit() {
///     let event = ServerEvent::from_str(&frame).unwrap();
///     if let EventKind::OutputTextDelta(delta) = &event.kind {
///         text.push_str(&delta.delta);
///     }
///     types.push(event.event_type().to_owned());
/// }
/// assert_eq!(text, "Hello there!");
/// assert_eq!(types.len(), 10); // created, in_progress, item, part, 2 deltas, done × 3, completed
/// assert_eq!(types[9], "response.completed");
/// assert_eq!(server.poll_action(), None);
/// ```
#[derive(Debug)]
pub struct MockConnection {
    model: Model,
    opened_at: Instant,
    now: Instant,
    lanes: BTreeMap<LaneKey, Lane>,
    /// Distinct named lanes seen on this connection.
    named_lanes: usize,
    /// The most responses generating at once, and creates waiting at once, so far.
    peak_in_flight: usize,
    peak_queued: usize,
    cache: LaneCache,
    /// Frames ready to send, before any further streamed event.
    outbox: VecDeque<String>,
    arrivals: u64,
    /// The lane that sent the last streamed event (`Some(None)` is the default lane), so that
    /// lanes take turns.
    last_served: Option<LaneKey>,
    traffic: Traffic,
    state: State,
    /// The upgrade request asked for the multi-agent beta: `response.inject` is served.
    multi_agent: bool,
}

/// How full a [`MockConnection`] got ([`MockConnection::occupancy`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Occupancy {
    /// The most responses generating at once.
    pub peak_in_flight: usize,
    /// The most creates waiting for a free in-flight slot at once.
    pub peak_queued: usize,
    /// Distinct named lanes (`stream_id`s) seen.
    pub named_lanes: usize,
}

impl MockConnection {
    /// The connection with index `connection_index` (its ids and connection-scoped faults
    /// depend on it; give each connection of a server its own), opened at `now`.
    pub fn new(script: Script, connection_index: u32, now: Instant) -> Self {
        MockConnection {
            model: Model::new(script, connection_index),
            opened_at: now,
            now,
            lanes: BTreeMap::new(),
            named_lanes: 0,
            peak_in_flight: 0,
            peak_queued: 0,
            cache: LaneCache::default(),
            outbox: VecDeque::new(),
            arrivals: 0,
            last_served: None,
            traffic: Traffic::default(),
            state: State::Open,
            multi_agent: false,
        }
    }

    /// The driver accepted the upgrade request with these `headers`: the connection serves
    /// the betas they ask for. `OpenAI-Beta: responses_multi_agent=v1` turns the multi-agent
    /// beta on (`response.inject`, responses that wait for tool outputs: see
    /// [`MultiAgentScript`](super::MultiAgentScript)); without it `response.inject` is
    /// answered with an `error` event, as an event the server does not serve.
    ///
    /// ```
    /// use responses_ws_core::mock::{MockConnection, Script};
    /// use responses_ws_core::ws::Header;
    /// use responses_ws_core::Instant;
    ///
    /// let mut server = MockConnection::new(Script::new(), 0, Instant::ZERO);
    /// server.upgraded(&[Header::new("OpenAI-Beta", "responses_multi_agent=v1")]);
    /// server.handle_text(r#"{"type":"response.inject","response_id":"resp_x","input":[]}"#, Instant::ZERO);
    /// let frame = server.poll_transmit().unwrap();
    /// assert!(frame.starts_with(r#"{"type":"response.inject.failed""#), "{frame}");
    /// assert!(frame.contains(r#""code":"response_not_found""#));
    /// ```
    pub fn upgraded(&mut self, headers: &[Header]) {
        self.multi_agent = inject::beta_requested(headers);
    }

    /// Starts with the `store: true` responses of `store` (e.g. from earlier connections).
    pub fn with_store(mut self, store: ResponseStore) -> Self {
        self.model.store = store;
        self
    }

    /// The `store: true` responses known to this connection.
    pub fn store(&self) -> &ResponseStore {
        &self.model.store
    }

    /// How full the connection got so far: the most responses generating at once (the
    /// server's limit is [`Limits::max_in_flight`](super::Limits)), the most creates waiting
    /// for a free slot at once, and the distinct named lanes (limit
    /// [`Limits::max_named_lanes`](super::Limits)).
    pub fn occupancy(&self) -> Occupancy {
        Occupancy {
            peak_in_flight: self.peak_in_flight,
            peak_queued: self.peak_queued,
            named_lanes: self.named_lanes,
        }
    }

    /// The index given to [`new`](Self::new).
    pub fn connection_index(&self) -> u32 {
        self.model.connection
    }

    /// What was received and sent so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Whether the driver should keep reading client frames; false once a
    /// [`StopReading`](super::StopReading) fault applies. Frames handed in anyway are served.
    pub fn is_reading(&self) -> bool {
        let index = self.model.connection;
        let stopped = self
            .model
            .script
            .faults
            .stop_reading
            .as_ref()
            .is_some_and(|stop| {
                on_connection(stop.connection, index)
                    && self.traffic.frames_received >= stop.after_frames
            });
        !stopped
    }

    /// Whether the connection is over: its [`Action`] has been taken.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished)
    }

    // ---------------------------------------------------------------- inputs

    /// A client text frame arrived. Never fails: a frame that is not a client event is answered
    /// with an `error` event. May queue frames, an action and a new deadline.
    pub fn handle_text(&mut self, text: &str, now: Instant) {
        self.advance(now);
        self.traffic.received(text.len());
        if !self.is_open() {
            return;
        }
        if let Some(frame) = self.protocol_break().map(super::ProtocolBreak::frame) {
            self.outbox.clear();
            self.lanes.clear();
            self.state = State::Ending(Action::SendRaw(frame));
            return;
        }
        match ClientEvent::from_str(text) {
            Ok(ClientEvent::Create(request)) => self.on_create(request),
            Ok(ClientEvent::Steer(steer)) => self.on_steer(steer),
            Ok(ClientEvent::Inject(request)) if self.multi_agent => self.on_inject(request),
            Ok(ClientEvent::Inject(_)) => self.reject(None, errors::beta_required()),
            Err(error) => self.reject(None, errors::bad_frame(&error)),
        }
    }

    /// A client binary frame arrived (the protocol has none): answered with an `error` event.
    pub fn handle_binary(&mut self, data: &[u8], now: Instant) {
        self.advance(now);
        self.traffic.received(data.len());
        if self.is_open() {
            self.reject(None, errors::binary_frame());
        }
    }

    /// Time has reached `now`: streamed events that are due become available to
    /// [`poll_transmit`](Self::poll_transmit), and an unprompted age limit fires.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.stop_waiting();
        self.check_idle_age();
    }

    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    // ---------------------------------------------------------------- outputs

    /// The next server frame (a JSON text message), in order. Non-empty after any input or
    /// timeout; streamed events come out only once due, lanes taking turns.
    pub fn poll_transmit(&mut self) -> Option<String> {
        loop {
            if let Some(frame) = self.outbox.pop_front() {
                return Some(self.sent(frame));
            }
            if !self.is_open() || !self.stream_next() {
                return None;
            }
        }
    }

    /// What to do to the transport, once [`poll_transmit`](Self::poll_transmit) is empty:
    /// close (after the age-limit error) or drop (a [`DropFault`](super::DropFault)). Returned
    /// once; the connection is then finished.
    pub fn poll_action(&mut self) -> Option<Action> {
        if !self.outbox.is_empty() || !matches!(self.state, State::Ending(_)) {
            return None;
        }
        match core::mem::replace(&mut self.state, State::Finished) {
            // After raw bytes the connection is broken, not over: the client ends it.
            State::Ending(action @ Action::SendRaw(_)) => {
                self.state = State::Silent;
                Some(action)
            }
            State::Ending(action) => Some(action),
            state @ (State::Open | State::Silent | State::Finished) => {
                self.state = state;
                None
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next: the next streamed
    /// event, or the age limit. Changes after any input, timeout or poll.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.is_open() {
            return None;
        }
        let streaming = self
            .lanes
            .values()
            .filter_map(|lane| lane.active.as_ref()?.deadline())
            .min();
        let age = self.age_deadline().filter(|deadline| *deadline > self.now);
        streaming.into_iter().chain(age).min()
    }

    // ---------------------------------------------------------------- requests

    fn on_create(&mut self, request: Box<ResponseCreate>) {
        if self.is_aged() {
            return self.reach_age_limit();
        }
        let lane = request.stream_id.clone();
        if lane
            .as_deref()
            .is_some_and(|name| !is_valid_stream_id(name))
        {
            return self.reject(None, errors::invalid_stream_id());
        }
        let limits = &self.model.script.limits;
        let (max_named_lanes, max_queued) = (limits.max_named_lanes, limits.max_queued);
        if !self.lanes.contains_key(&lane) {
            if lane.is_some() {
                if self.named_lanes >= max_named_lanes {
                    let error = errors::stream_limit_reached(max_named_lanes);
                    return self.reject(lane.as_deref(), error);
                }
                self.named_lanes += 1;
            }
            self.lanes.insert(lane.clone(), Lane::default());
        }
        let queued: usize = self.lanes.values().map(|lane| lane.queue.len()).sum();
        if queued >= max_queued {
            return self.reject(lane.as_deref(), errors::queue_full(max_queued));
        }
        self.arrivals += 1;
        let arrival = self.arrivals;
        if let Some(state) = self.lanes.get_mut(&lane) {
            state.queue.push_back(Queued { arrival, request });
        }
        self.start_queued();
        let queued = self.lanes.values().map(|lane| lane.queue.len()).sum();
        self.peak_queued = self.peak_queued.max(queued);
    }

    /// Starts waiting creates, oldest first, while lanes and in-flight slots are free.
    fn start_queued(&mut self) {
        while self.is_open() && self.in_flight() < self.model.script.limits.max_in_flight {
            let Some(lane) = self.next_startable() else {
                return;
            };
            let Some(queued) = self.lanes.get_mut(&lane).and_then(|l| l.queue.pop_front()) else {
                return;
            };
            self.start(lane, queued.request);
            self.peak_in_flight = self.peak_in_flight.max(self.in_flight());
        }
    }

    fn in_flight(&self) -> usize {
        self.lanes
            .values()
            .filter(|lane| lane.active.is_some())
            .count()
    }

    /// The idle lane whose oldest waiting create arrived first.
    fn next_startable(&self) -> Option<LaneKey> {
        self.lanes
            .iter()
            .filter(|(_, lane)| lane.active.is_none())
            .filter_map(|(key, lane)| Some((lane.queue.front()?.arrival, key)))
            .min_by_key(|(arrival, _)| *arrival)
            .map(|(_, key)| key.clone())
    }

    /// Starts `request` on `lane`: resolves its parent, then streams its plan or reports why it
    /// never starts.
    fn start(&mut self, lane: LaneKey, request: Box<ResponseCreate>) {
        let agent = (self.multi_agent && inject::is_multi_agent(&request))
            .then(|| self.model.script.multi_agent.agent_name.clone());
        let parent = match request.previous_response_id.as_deref() {
            None => None,
            Some(id) => match self.resolve(&lane, id) {
                Some(parent) => Some(parent),
                None => {
                    let error = errors::previous_response_not_found(id);
                    return self.refuse(lane.as_deref(), agent.as_deref(), error);
                }
            },
        };
        let conversation = parent
            .as_ref()
            .map(|resolved| (&resolved.conversation, resolved.found));
        let waits = agent.is_some();
        match self.model.begin(&request, conversation, waits, self.now) {
            Err(NotStarted::Closed { code, reason }) => self.end(Action::Close {
                code: CloseCode(code),
                reason,
            }),
            Err(NotStarted::Rejected(error)) => {
                if let Some(parent) = parent.as_ref().filter(|parent| parent.same_lane) {
                    self.cache.evict(&lane, &parent.conversation.id);
                }
                self.refuse(lane.as_deref(), agent.as_deref(), error);
            }
            Ok(begun) => {
                let parent = parent.map(|resolved| ParentRef {
                    id: resolved.conversation.id,
                    same_lane: resolved.same_lane,
                });
                let wait = self.model.script.multi_agent.wait;
                let multi_agent = (wait, agent);
                let active =
                    Active::new(begun, lane.clone(), parent, request, self.now, multi_agent);
                if let Some(state) = self.lanes.get_mut(&lane) {
                    state.active = Some(Box::new(active));
                }
            }
        }
    }

    /// The response `id` continues from: from this connection's cache (the latest of some
    /// lane), else from the store of `store: true` responses.
    fn resolve(&self, lane: &LaneKey, id: &str) -> Option<Resolved> {
        if let Some((latest_of, conversation)) = self.cache.find(id) {
            return Some(Resolved {
                conversation: conversation.clone(),
                same_lane: latest_of == lane,
                found: Found::Cache,
            });
        }
        let stored = self.model.store.get(id)?;
        Some(Resolved {
            conversation: stored.clone(),
            same_lane: false,
            found: Found::Store,
        })
    }

    /// Queues an `error` event for a request that never starts.
    fn reject(&mut self, stream_id: Option<&str>, error: Rejection) {
        self.refuse(stream_id, None, error);
    }

    /// Queues an `error` event for a request that never starts, naming its lane and, for a
    /// multi-agent request, its agent.
    fn refuse(&mut self, stream_id: Option<&str>, agent: Option<&str>, error: Rejection) {
        let frame = errors::error_frame(stream_id, error);
        let frame = match agent {
            Some(name) => inject::tag_agent(frame, name),
            None => frame,
        };
        self.outbox.push_back(frame);
    }

    // ---------------------------------------------------------------- streaming

    /// Moves the next due event of the next lane in turn to the outbox; false if none is due.
    fn stream_next(&mut self) -> bool {
        let Some(lane) = self.next_ready_lane() else {
            return false;
        };
        let Some(active) = self
            .lanes
            .get_mut(&lane)
            .and_then(|l| l.active.as_deref_mut())
        else {
            return false;
        };
        if let Some(frame) = active.emit() {
            self.outbox.push_back(frame);
        }
        let (done, stalls) = (active.is_done(), active.stalls);
        self.last_served = Some(lane.clone());
        match (done, stalls) {
            (true, true) => {
                self.lanes.clear();
                self.state = State::Silent;
            }
            (true, false) => self.finish(&lane),
            (false, _) => {}
        }
        true
    }

    /// The first lane after the last one served (cyclically) with a due event.
    fn next_ready_lane(&self) -> Option<LaneKey> {
        let now = self.now;
        let ready =
            |(_, lane): &(&LaneKey, &Lane)| lane.active.as_ref().is_some_and(|a| a.is_ready(now));
        let after_last = self.last_served.as_ref().and_then(|last| {
            self.lanes
                .range::<LaneKey, _>((Bound::Excluded(last), Bound::Unbounded))
                .find(ready)
        });
        after_last
            .or_else(|| self.lanes.iter().find(ready))
            .map(|(key, _)| key.clone())
    }

    /// The response of `lane` has sent its terminal event: remember or evict, follow up a
    /// steer, start what waits.
    fn finish(&mut self, lane: &LaneKey) {
        let Some(active) = self.lanes.get_mut(lane).and_then(|l| l.active.take()) else {
            return;
        };
        match (&active.result, &active.parent) {
            (Some(result), _) => {
                self.model.remember(result, active.store);
                self.cache.set_latest(lane.clone(), result.clone());
            }
            (None, Some(parent)) if parent.same_lane => self.cache.evict(lane, &parent.id),
            (None, _) => {}
        }
        self.follow_up_steer(lane, active);
        self.start_queued();
        self.check_idle_age();
    }

    // ---------------------------------------------------------------- steering

    fn on_steer(&mut self, request: ResponseSteer) {
        let target = request.previous_response_id.as_str();
        let streaming = self
            .lanes
            .values_mut()
            .filter_map(|lane| lane.active.as_deref_mut())
            .find(|active| active.id == target);
        let Some(active) = streaming else {
            let completed = self.cache.find(target).is_some() || self.model.store.contains(target);
            let code = match completed {
                true => steer::ALREADY_COMPLETED,
                false => steer::NOT_FOUND,
            };
            let lane = self.cache.find(target).and_then(|(lane, _)| lane.clone());
            let event = ServerEvent {
                stream_id: lane.map(Cow::Owned),
                sequence_number: Some(0),
                kind: steer::rejected(request, code),
            };
            return self.outbox.push_back(event.to_json());
        };
        let refusal = match (self.model.script.steering, &active.steer) {
            (false, _) => Some(steer::NOT_SUPPORTED),
            (true, Some(_)) => Some(steer::TOO_MANY),
            (true, None) => None,
        };
        let frame = match refusal {
            Some(code) => active.frame(steer::rejected(request, code)),
            None => {
                let id = self.model.ids.next("steer");
                let event = steer::accepted(id.clone(), active.id.clone());
                active.steer = Some(AcceptedSteer {
                    id,
                    input: request.input,
                });
                active.frame(event)
            }
        };
        self.outbox.push_back(frame);
    }

    /// After a steered response: the successor, the pending notice, or the failure.
    fn follow_up_steer(&mut self, lane: &LaneKey, mut active: Box<Active>) {
        let Some(accepted) = active.steer.take() else {
            return;
        };
        let target = active.id.clone();
        let frame = match &active.result {
            None => steer::failed(
                Some(accepted.id),
                target,
                accepted.input,
                steer::SUCCESSOR_FAILED,
            ),
            Some(result) if !result.pending.is_empty() => {
                steer::pending(accepted.id, target, &result.pending)
            }
            Some(_) => {
                let request = steer::successor(&active.request, &target, accepted.input);
                if let Some(state) = self.lanes.get_mut(lane) {
                    state.queue.push_front(Queued {
                        arrival: 0,
                        request,
                    });
                }
                return;
            }
        };
        let frame = active.frame(frame);
        self.outbox.push_back(frame);
    }

    // ---------------------------------------------------------------- injection

    /// `response.inject` on a connection with the multi-agent beta: committed into the
    /// response that waits for these outputs, else refused with the input handed back.
    fn on_inject(&mut self, request: ResponseInject) {
        let ResponseInject { response_id, input } = request;
        let streaming = self
            .lanes
            .values_mut()
            .filter_map(|lane| lane.active.as_deref_mut())
            .find(|active| active.id == response_id);
        let Some(active) = streaming else {
            let cached = self.cache.find(&response_id);
            let completed = cached.is_some() || self.model.store.contains(&response_id);
            let code = match completed {
                true => inject::ALREADY_COMPLETED,
                false => inject::NOT_FOUND,
            };
            let event = ServerEvent {
                stream_id: cached.and_then(|(lane, _)| lane.clone()).map(Cow::Owned),
                sequence_number: Some(0),
                kind: inject::failed(response_id, input, code, None, None),
            };
            return self.outbox.push_back(event.to_json());
        };
        let committed = match active.waiting.as_deref_mut() {
            Some(waiting) => waiting.commit(&input),
            None => Err(("This response waits for no tool output.".into(), None)),
        };
        let kind = match committed {
            Ok(()) => inject::created(response_id),
            Err((message, at)) => {
                inject::failed(response_id, input, inject::INVALID_INPUT, Some(message), at)
            }
        };
        let mut frame = active.frame(kind);
        if let Some(name) = &active.agent {
            frame = inject::tag_agent(frame, name);
        }
        self.outbox.push_back(frame);
        self.resume_answered();
    }

    /// Every waiting response whose calls are all answered goes on with its next step (and
    /// completes, unless that step makes calls too).
    fn resume_answered(&mut self) {
        let now = self.now;
        for active in self
            .lanes
            .values_mut()
            .filter_map(|lane| lane.active.as_deref_mut())
        {
            let Some(waiting) = active.waiting.as_deref_mut() else {
                continue;
            };
            if !waiting.is_answered() {
                continue;
            }
            let events = self.model.resume(&mut waiting.generation);
            let calls = !waiting.generation.pending.is_empty();
            if calls {
                waiting.rearm();
            }
            active.extend(events, now);
            if !calls {
                active.stop_waiting(now);
            }
        }
    }

    /// Waiting responses whose wait is over complete without the outputs they lack.
    fn stop_waiting(&mut self) {
        let now = self.now;
        for active in self
            .lanes
            .values_mut()
            .filter_map(|lane| lane.active.as_deref_mut())
        {
            if active.wait_is_over(now) {
                active.stop_waiting(now);
            }
        }
    }

    // ---------------------------------------------------------------- the end

    fn is_open(&self) -> bool {
        matches!(self.state, State::Open)
    }

    /// The protocol break due now, on the first client frame of a connection it applies to.
    fn protocol_break(&self) -> Option<&super::ProtocolBreak> {
        let fault = self.model.script.faults.break_protocol.as_ref()?;
        let first = self.traffic.frames_received == 1;
        (first && on_connection(fault.connection, self.model.connection)).then_some(fault)
    }

    /// Counts a frame leaving; a due drop fault ends the connection right after it.
    fn sent(&mut self, frame: String) -> String {
        self.traffic.sent(frame.len());
        let index = self.model.connection;
        let drop_due = self.model.script.faults.drop.as_ref().is_some_and(|drop| {
            on_connection(drop.connection, index)
                && self.traffic.frames_sent >= drop.after_events.max(1)
        });
        if drop_due && self.is_open() {
            self.outbox.clear();
            self.end(Action::Drop);
        }
        frame
    }

    fn end(&mut self, action: Action) {
        self.lanes.clear();
        self.state = State::Ending(action);
    }

    fn is_aged(&self) -> bool {
        let limit = &self.model.script.faults.age_limit;
        let too_old = limit
            .after
            .is_some_and(|age| self.now >= self.opened_at + age);
        let too_many = limit
            .after_responses
            .is_some_and(|responses| self.model.started >= responses);
        too_old || too_many
    }

    /// When the age limit fires on its own (unprompted notice, by age).
    fn age_deadline(&self) -> Option<Instant> {
        let limit = &self.model.script.faults.age_limit;
        let age = limit
            .after
            .filter(|_| limit.notice == AgeNotice::Unprompted)?;
        Some(self.opened_at + age)
    }

    /// Fires an unprompted age limit once the connection is idle.
    fn check_idle_age(&mut self) {
        let unprompted = self.model.script.faults.age_limit.notice == AgeNotice::Unprompted;
        let idle = self
            .lanes
            .values()
            .all(|lane| lane.active.is_none() && lane.queue.is_empty());
        if self.is_open() && unprompted && idle && self.is_aged() {
            self.reach_age_limit();
        }
    }

    /// Sends `websocket_connection_limit_reached` (connection-scoped: no `stream_id`), then
    /// closes.
    fn reach_age_limit(&mut self) {
        self.reject(None, errors::connection_limit_reached());
        let code = CloseCode(self.model.script.faults.age_limit.close_code);
        self.end(Action::Close {
            code,
            reason: "connection limit reached".into(),
        });
    }
}
