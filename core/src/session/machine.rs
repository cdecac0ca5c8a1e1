//! [`Session`]: the conversation machine. It turns API calls (create, fork, warm up, tool
//! outputs, steer) into `response.create` / `response.steer` frames, routes the server's
//! events to lanes and requests, assembles responses, sequences tool calls, and keeps the
//! ledger so that no input or tool output is lost when the server's cache or the connection
//! goes away.
//!
//! It knows nothing of sockets or WebSocket frames: text frames in, text frames out, and time
//! as an argument. The `Client` of the adapters combines it with the WebSocket layer.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem;

use super::assembly::{Assembled, ResponseAssembly};
use super::config::SessionConfig;
use super::events::{ReconnectReason, RequestError, RequestId, SessionError, SessionEvent};
use super::inject::Injections;
use super::lane::Lane;
use super::ledger::{settings_of, FullContextReason, LaneLedger, Ledger};
use super::refused::Refused;
use super::stream_event::StreamEvent;
use super::tools::{PendingCalls, ToolCallKind, ToolOutputError};
use crate::retry::{Failure, GaveUp, RetrySafety};
use crate::time::Instant;
use crate::wire::{
    ApiError, ClientEvent, DecodeError, EventKind, IncompleteReason, Input, Item, ResponseCreate,
    ResponseStatus, ServerEvent, ToolOutput,
};
use crate::ws::Utf8Bytes;

mod http;
mod journal;
mod running;
mod transfer;
use journal::JournaledLane;
pub use transfer::LaneTransfer;

/// The error code of the connection age limit.
const CONNECTION_LIMIT: &str = "websocket_connection_limit_reached";
/// The error code of a continuation whose parent the server does not hold.
const PREVIOUS_NOT_FOUND: &str = "previous_response_not_found";
/// The inject refusal after which the server asks for the items in a new request.
const ALREADY_COMPLETED: &str = "response_already_completed";

/// The conversation machine of one agent, across connections.
///
/// Drive it like the rest of the core: after any call, drain [`poll_transmit`](Self::poll_transmit)
/// (text frames to send) and [`poll_event`](Self::poll_event), and call
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout).
///
/// ```
/// use responses_ws_core::session::{Session, SessionConfig, SessionEvent};
/// use responses_ws_core::wire::{Item, ResponseCreate};
/// use responses_ws_core::Instant;
///
/// let mut session = Session::new(SessionConfig::default());
/// session.connected(Instant::ZERO);
/// let request = session.create(ResponseCreate {
///     model: Some("gpt-5.5".into()),
///     store: Some(false),
///     input: Some(vec![Item::user_message("Say hello.")].into()),
///     ..ResponseCreate::default()
/// })?;
/// let frame = session.poll_transmit().unwrap();
/// assert!(frame.starts_with(r#"{"type":"response.create","model":"gpt-5.5""#));
///
/// // The server answers; every event is routed to the request.
/// session.handle_text(r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":"gpt-5.5","output":[]}}"#, Instant::ZERO);
/// assert!(matches!(session.poll_event(), Some(SessionEvent::Started { response_id, .. }) if response_id == "resp_1"));
/// # Ok::<(), responses_ws_core::session::SessionError>(())
/// ```
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    ledger: Ledger,
    /// Boxed: a B-tree leaf has room for 11 entries, and a connection with one or two lanes
    /// would otherwise hold 11 `LaneState`s' worth of memory (about 21 KiB).
    lanes: BTreeMap<Lane, Box<LaneState>>,
    connection: Connection,
    now: Instant,
    next_request: u64,
    outbox: VecDeque<String>,
    events: VecDeque<SessionEvent>,
    /// The lanes whose conversations are journaled (`journal`).
    journals: BTreeMap<Lane, JournaledLane>,
    /// Write-ahead records not yet taken; while any waits, `outbox` is held.
    records: VecDeque<crate::persist::Record>,
    /// Where a frame's escaped strings are unescaped while the session reads it (empty between
    /// frames; kept so that reading a delta allocates nothing).
    scratch: String,
    /// Records that describe no frame (a turn acknowledged): they ride with the next record
    /// instead of costing a durable write of their own.
    riders: Vec<crate::persist::Record>,
}

/// The connection the session is using, as far as the session knows.
#[derive(Debug)]
enum Connection {
    /// No connection: requests wait.
    Down,
    /// Open since `since`; the named lanes it has seen count against the server's limit.
    Up {
        since: Instant,
        named_lanes: BTreeSet<Arc<str>>,
    },
    /// The session asked for a new connection and sends nothing more on this one.
    Retiring,
}

/// One lane's traffic (its conversation lives in the ledger).
#[derive(Debug, Default)]
struct LaneState {
    queue: VecDeque<Request>,
    phase: Phase,
    /// The settings of the lane's last request, reused by tool continuations.
    settings: Option<ResponseCreate>,
    /// Forks taken from this lane whose requests have not reached `response.in_progress`:
    /// the lane sends nothing while the server may still need its last response for them.
    forks_pending: usize,
    /// Steers sent for the running response, oldest first.
    steers: Vec<Steer>,
    /// Items injected into the running response (or, once it ended, still waiting for a
    /// verdict), oldest first.
    injections: Injections,
}

/// Where a lane is in its request cycle. At most one request per lane is in flight (`Sent`
/// or `Streaming`); only those count against `max_in_flight`.
#[derive(Debug, Default)]
enum Phase {
    #[default]
    Idle,
    /// Sent; `response.created` has not arrived.
    Sent(Active),
    /// Started: the response's events are arriving.
    Streaming(Active, Box<ResponseAssembly>),
    /// The last response made tool calls; the lane waits for every output.
    AwaitingTools(PendingCalls),
    /// The last response was steered to an end; the server starts a successor by itself.
    AwaitingSuccessor,
}

/// A request in flight.
#[derive(Debug)]
struct Active {
    request: Request,
    /// Whether it was sent with `previous_response_id` (a failure then evicts the parent).
    chained: bool,
    /// When it was sent or last got an event: the idle timeout counts from here.
    last_event: Instant,
    /// Bytes of its events so far (`handle_text`), against `max_response_bytes`.
    received: usize,
    /// Why the session gave it up, if it did; the connection is being replaced for it, and
    /// this is its error when the connection ends.
    abandoned: Option<Abandoned>,
}

/// Why the session gave up a running response.
#[derive(Debug, Clone, Copy)]
enum Abandoned {
    /// No event within the idle timeout.
    IdleTimeout,
    /// Its events passed `max_response_bytes` (the limit).
    TooLarge(usize),
}

impl Abandoned {
    fn error(self) -> RequestError {
        match self {
            Abandoned::IdleTimeout => RequestError::IdleTimeout,
            Abandoned::TooLarge(limit) => RequestError::ResponseTooLarge { limit },
        }
    }
}

impl Active {
    fn new(request: Request, chained: bool, now: Instant) -> Self {
        Active {
            request,
            chained,
            last_event: now,
            received: 0,
            abandoned: None,
        }
    }
}

/// A request of a lane, queued or in flight.
#[derive(Debug)]
struct Request {
    id: RequestId,
    /// The request without input, `previous_response_id` or `stream_id`.
    settings: ResponseCreate,
    /// New input; moved into the ledger when the request is first sent.
    input: Vec<Item>,
    /// Whether `input` is in the ledger already.
    in_ledger: bool,
    /// Whether `input` holds tool outputs (journaled one by one as they were accepted).
    answers: bool,
    /// Whether the one automatic full-context replay after `previous_response_not_found`
    /// has been used.
    replayed: bool,
    /// The lane this request forked from, until the fork no longer holds it.
    fork_of: Option<Lane>,
    /// Times it was sent; at most `retry.max_attempts`.
    attempts: u32,
}

impl Request {
    fn new(id: RequestId, settings: ResponseCreate, input: Vec<Item>, in_ledger: bool) -> Self {
        Request {
            id,
            settings,
            input,
            in_ledger,
            answers: false,
            replayed: false,
            fork_of: None,
            attempts: 0,
        }
    }
}

/// A steer sent for a running response.
#[derive(Debug)]
struct Steer {
    input: Input,
    /// `None` until `response.steer.accepted`.
    id: Option<String>,
}

impl Session {
    /// A session with no conversation and no connection yet.
    pub fn new(config: SessionConfig) -> Self {
        Session::restore(config, Ledger::default())
    }

    /// A session that continues the conversations of a saved [`Ledger`]. No response of the
    /// ledger is cached on a new connection, so each lane's next request sends its full
    /// context (unless it was stored with `store: true`).
    pub fn restore(config: SessionConfig, mut ledger: Ledger) -> Self {
        ledger.new_connection();
        Session {
            config,
            ledger,
            lanes: BTreeMap::new(),
            connection: Connection::Down,
            now: Instant::ZERO,
            next_request: 0,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            journals: BTreeMap::new(),
            records: VecDeque::new(),
            scratch: String::new(),
            riders: Vec::new(),
        }
    }

    /// Every lane's conversation, to save with serde and [`restore`](Self::restore) later.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// A new connection is open. Nothing the server cached before is reachable; queued and
    /// unstarted requests go out now (with their full context where needed).
    pub fn connected(&mut self, now: Instant) {
        self.now = now;
        self.end_connection(&Failure::Dropped, true);
        self.ledger.new_connection();
        self.connection = Connection::Up {
            since: now,
            named_lanes: BTreeSet::new(),
        };
        self.pump();
    }

    /// The connection dropped: [`connection_lost`](Self::connection_lost) with
    /// [`Failure::Dropped`].
    pub fn disconnected(&mut self, now: Instant) {
        self.connection_lost(&Failure::Dropped, now);
    }

    /// The connection ended with `cause`. Requests that had not started go out again on the
    /// next connection ([`SessionEvent::Retrying`]) while they have attempts left, and fail
    /// with [`RequestError::GaveUp`] after that; started ones fail with
    /// [`RequestError::Interrupted`] (or are retried, with
    /// [`RetryPolicy::retry_started`](crate::retry::RetryPolicy::retry_started)). Their
    /// input stays in the ledger; steers not yet applied are handed back.
    pub fn connection_lost(&mut self, cause: &Failure, now: Instant) {
        self.now = now;
        self.end_connection(cause, true);
    }

    /// No further connection will be tried (the client's budget is spent, or `cause` is
    /// final). Call it instead of [`connection_lost`](Self::connection_lost) when the
    /// connection that ended was the last: started requests fail as interrupted, and every
    /// other request fails with [`RequestError::GaveUp`], carrying `cause` and `attempts`
    /// (the connection attempts made; a request sent more often reports its own count).
    /// Lanes waiting for tool outputs keep them; nothing leaves the ledger.
    pub fn give_up(&mut self, cause: &Failure, attempts: u32) {
        self.end_connection(cause, false);
        let mut failed = Vec::new();
        for (lane, state) in &mut self.lanes {
            failed.extend(
                mem::take(&mut state.queue)
                    .into_iter()
                    .map(|r| (lane.clone(), r)),
            );
        }
        for (lane, mut request) in failed {
            self.release_fork_of(&request);
            // Like a failed turn, one that never went out leaves its input in the ledger for
            // the lane's next request.
            if !request.in_ledger {
                let input = mem::take(&mut request.input);
                self.ledger.lane_mut(&lane).push_input(input);
            }
            let safety = if request.attempts == 0 {
                RetrySafety::NeverSent
            } else {
                RetrySafety::SentNotStarted
            };
            let gave_up = GaveUp::new(cause.clone(), attempts.max(request.attempts), safety);
            self.events.push_back(SessionEvent::Failed {
                lane,
                request: request.id,
                error: RequestError::GaveUp(Box::new(gave_up)),
            });
        }
    }

    /// Queues a turn on the lane of `request.stream_id` (the default lane when `None`).
    ///
    /// `request.input` is the new input only; the session adds `previous_response_id` or the
    /// full context. Every other field is sent as it is. With `generate: Some(false)` the turn
    /// is a warm-up: the lane's next turn chains from it.
    ///
    /// Refused (and handed back, nothing queued) when the lane waits for tool outputs, a field
    /// the session owns is set, or a lane or queue limit is reached.
    pub fn create(
        &mut self,
        request: ResponseCreate,
    ) -> Result<RequestId, Refused<ResponseCreate>> {
        let lane = match self.admit_create(&request) {
            Ok(lane) => lane,
            Err(error) => return Err(Refused::new(error, request)),
        };
        let id = self.enqueue(&lane, request);
        self.pump();
        Ok(id)
    }

    /// The lane `request` goes to, if [`create`](Self::create) may take it.
    fn admit_create(&mut self, request: &ResponseCreate) -> Result<Lane, SessionError> {
        let lane = self.requested_lane(request)?;
        if matches!(self.lane(&lane).phase, Phase::AwaitingTools(_)) {
            return Err(SessionError::LaneBusy(lane));
        }
        self.check_lane_budget(&lane)?;
        self.check_queue_room()?;
        Ok(lane)
    }

    /// Warms the lane of `request.stream_id` up: sends `request` (instructions, tools, maybe
    /// context) with `generate: false`, so the server prepares it without running the model.
    /// The lane's next turn with the same settings chains from the warm-up's response, sending
    /// only its new input.
    pub fn warm_up(
        &mut self,
        mut request: ResponseCreate,
    ) -> Result<RequestId, Refused<ResponseCreate>> {
        request.generate = Some(false);
        self.create(request)
    }

    /// Starts lane `request.stream_id` (which must be named and new) from the last response
    /// of lane `from`: the new lane inherits its conversation, and `from` sends nothing more
    /// until the fork has started (`response.in_progress`), so the server still holds the
    /// shared parent when the fork needs it.
    pub fn fork(
        &mut self,
        from: &Lane,
        request: ResponseCreate,
    ) -> Result<RequestId, Refused<ResponseCreate>> {
        let lane = match self.admit_fork(from, &request) {
            Ok(lane) => lane,
            Err(error) => return Err(Refused::new(error, request)),
        };
        let inherited: LaneLedger = self.ledger.lane(from).cloned().unwrap_or_default();
        *self.ledger.lane_mut(&lane) = inherited;
        let settings = self.lane(from).settings.clone();
        self.lane_mut(from).forks_pending += 1;
        let id = self.enqueue(&lane, request);
        let target = self.lane_mut(&lane);
        target.settings = settings;
        if let Some(queued) = target.queue.back_mut() {
            queued.fork_of = Some(from.clone());
        }
        self.pump();
        Ok(id)
    }

    /// The new lane of a fork of `from`, if [`fork`](Self::fork) may take `request`.
    fn admit_fork(&mut self, from: &Lane, request: &ResponseCreate) -> Result<Lane, SessionError> {
        let lane = self.requested_lane(request)?;
        let source = self.lane(from);
        if matches!(source.phase, Phase::Sent(_) | Phase::Streaming(..)) || !source.queue.is_empty()
        {
            return Err(SessionError::LaneBusy(from.clone()));
        }
        let target_used = self.lanes.contains_key(&lane) || self.ledger.lane(&lane).is_some();
        if lane == Lane::Default || target_used {
            return Err(SessionError::LaneInUse(lane));
        }
        self.check_lane_budget(&lane)?;
        self.check_queue_room()?;
        Ok(lane)
    }

    /// Answers the tool call `call_id` of the lane's last response. When every call has its
    /// answer, the continuation goes out by itself.
    pub fn submit_tool_output(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), SessionError> {
        let output = output.into();
        self.answer(lane, call_id, |call| call.output_item(output))
    }

    /// Approves or refuses the MCP approval request `request_id` of the lane's last response.
    pub fn submit_approval(
        &mut self,
        lane: &Lane,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), SessionError> {
        self.answer(lane, request_id, |call| match call.kind {
            ToolCallKind::McpApproval { .. } => Ok(call.approval(approve, reason)),
            _ => Err(ToolOutputError::WrongKind(call.call_id.clone())),
        })
    }

    /// The calls of the lane's last response that still wait for an answer.
    pub fn pending_tool_calls(&self, lane: &Lane) -> Vec<super::tools::ToolCall> {
        match self.lanes.get(lane).map(|state| &state.phase) {
            Some(Phase::AwaitingTools(pending)) => pending.unanswered().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Reads one text frame from the server (copied; [`handle_frame`](Self::handle_frame)
    /// takes a frame without copying it).
    pub fn handle_text(&mut self, text: &str, now: Instant) {
        self.handle_frame(Utf8Bytes::from(text), now);
    }

    /// Reads one text frame from the server. Its events reach the application as
    /// [`StreamEvent`]s that share the frame, so a delta is handed on without a copy.
    pub fn handle_frame(&mut self, frame: Utf8Bytes, now: Instant) {
        self.now = now;
        if let Err(error) = self.read_frame(None, &frame) {
            self.events.push_back(SessionEvent::BadFrame { error });
        }
        self.pump();
    }

    /// Decodes `frame` and takes its event, of `lane` when given (over HTTP, where the
    /// exchange says whose an event is), else of the lane its `stream_id` names.
    pub(super) fn read_frame(
        &mut self,
        lane: Option<&Lane>,
        frame: &Utf8Bytes,
    ) -> Result<(), DecodeError> {
        let mut scratch = mem::take(&mut self.scratch);
        let read = ServerEvent::from_str_in(frame.as_str(), &mut scratch)
            .map(|event| self.take_event(lane, event, frame));
        scratch.clear();
        self.scratch = scratch;
        read
    }

    /// Handles a decoded server event, as the frame [`ServerEvent::to_json`] writes.
    pub fn handle_event(&mut self, event: ServerEvent<'_>) {
        self.handle_frame(Utf8Bytes::from(event.to_json()), self.now);
    }

    /// Handles a server event decoded from `frame`, of `lane` or else of the lane its
    /// `stream_id` names: its lane's running request heard from
    /// the server now, and a running response is charged the frame's size against
    /// `max_response_bytes`; one that passes it is given up with its connection (events still
    /// on their way are then not assembled: they reach the application as `Unrouted`).
    fn take_event(&mut self, lane: Option<&Lane>, event: ServerEvent<'_>, frame: &Utf8Bytes) {
        let size = frame.len();
        // The lane as the session already holds it (a clone shares its name), found by the
        // event's `stream_id` without building one.
        let lane = match lane {
            Some(lane) => lane.clone(),
            None => {
                let key = event.stream_id.as_deref().unwrap_or("");
                match self.lanes.get_key_value(key) {
                    Some((lane, _)) => lane.clone(),
                    None => Lane::from_stream_id(event.stream_id.as_deref()),
                }
            }
        };
        let limit = self.config.max_response_bytes;
        let mut too_large = false;
        if let Some(state) = self.lanes.get_mut(&lane) {
            if let Phase::Streaming(active, _) = &mut state.phase {
                active.received = active.received.saturating_add(size);
                if active.received > limit && active.abandoned.is_none() {
                    active.abandoned = Some(Abandoned::TooLarge(limit));
                    too_large = true;
                }
            }
            if let Some(active) = state.active_mut() {
                active.last_event = self.now;
            }
        }
        if too_large {
            self.retire(ReconnectReason::ResponseTooLarge { limit });
        }
        if let Some(lane) = self.steer_event_lane(&event, &lane) {
            self.on_steer_event(lane, &event);
            return;
        }
        if let Some(lane) = self.inject_event_lane(&event, &lane) {
            self.on_inject_event(lane, &event);
            return;
        }
        match &event.kind {
            EventKind::Error(error) => {
                self.on_error(event.stream_id.is_some(), lane, error.clone())
            }
            _ => self.on_response_event(lane, event, frame),
        }
    }

    /// Handles the passing of time: connection age, and requests whose stream went idle.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if let Connection::Up { since, .. } = self.connection {
            if now >= since + self.config.max_age {
                self.retire(ReconnectReason::ConnectionLimit);
            } else if let Some(idle) = self.config.idle_timeout {
                let mut any = false;
                for active in self
                    .lanes
                    .values_mut()
                    .filter_map(|state| state.active_mut())
                {
                    if now >= active.last_event + idle {
                        active.abandoned = Some(Abandoned::IdleTimeout);
                        any = true;
                    }
                }
                if any {
                    self.retire(ReconnectReason::IdleTimeout);
                }
            }
        }
        self.pump();
    }

    /// The next moment [`handle_timeout`](Self::handle_timeout) has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let Connection::Up { since, .. } = self.connection else {
            return None;
        };
        let rotate = since + self.config.rotate_after;
        let age = if self.now < rotate {
            rotate
        } else {
            since + self.config.max_age
        };
        let idle = self.config.idle_timeout.and_then(|idle| {
            self.lanes
                .values()
                .filter_map(|state| state.active())
                .map(|active| active.last_event + idle)
                .min()
        });
        Some(idle.map_or(age, |idle| idle.min(age)))
    }

    /// The next text frame to send. Non-empty after `create`, `fork`, the last tool output of
    /// a response, `steer`, `connected`, and after server events that end a request.
    ///
    /// Empty while a write-ahead record waits in [`poll_record`](Self::poll_record): the
    /// records that describe a frame are handed out before it (see [`journal`](Self::journal)).
    pub fn poll_transmit(&mut self) -> Option<String> {
        if !self.records.is_empty() {
            return None;
        }
        self.outbox.pop_front()
    }

    /// The next event for the application. Non-empty after server frames, `connected`,
    /// `disconnected` and `handle_timeout`.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// The lane of a request that is queued or in flight (`None` once it has ended).
    pub fn lane_of(&self, request: RequestId) -> Option<&Lane> {
        self.lanes.iter().find_map(|(lane, state)| {
            let in_flight = match &state.phase {
                Phase::Sent(active) | Phase::Streaming(active, _) => active.request.id == request,
                _ => false,
            };
            (in_flight || state.queue.iter().any(|queued| queued.id == request)).then_some(lane)
        })
    }

    /// Requests in flight (sent, not yet ended) across all lanes.
    pub fn in_flight(&self) -> usize {
        self.lanes
            .values()
            .filter(|state| state.in_flight())
            .count()
    }

    /// Whether nothing is in flight, queued, or waiting for tool outputs.
    pub fn is_idle(&self) -> bool {
        self.lanes
            .values()
            .all(|state| matches!(state.phase, Phase::Idle) && state.queue.is_empty())
    }

    /// Gives back the spare capacity of the queues that are empty: what an idle session kept
    /// from its busiest moment (a connection's events, frames, records; a lane's requests and
    /// steers; the buffer escaped strings are read into). The next turn grows them again.
    pub(crate) fn release_idle_memory(&mut self) {
        fn release<T>(queue: &mut VecDeque<T>) {
            if queue.is_empty() {
                queue.shrink_to_fit();
            }
        }
        release(&mut self.outbox);
        release(&mut self.events);
        release(&mut self.records);
        // Empty between frames; it holds the longest escaped string read so far.
        self.scratch = String::new();
        // An emptied B-tree keeps its root node: a session whose lanes all moved out (a
        // pool's connection) gives it back.
        if self.lanes.is_empty() {
            self.lanes = BTreeMap::new();
        }
        if self.journals.is_empty() {
            self.journals = BTreeMap::new();
        }
        self.ledger.release_idle_memory();
        for state in self.lanes.values_mut() {
            release(&mut state.queue);
            if state.steers.is_empty() {
                state.steers.shrink_to_fit();
            }
        }
    }

    // --- Requests ---------------------------------------------------------------------------

    fn requested_lane(&self, request: &ResponseCreate) -> Result<Lane, SessionError> {
        if request.previous_response_id.is_some() {
            return Err(SessionError::OwnedField("previous_response_id"));
        }
        match &request.stream_id {
            None => Ok(Lane::Default),
            Some(name) => Ok(Lane::named(name.as_str())?),
        }
    }

    /// Refuses a named lane that would exceed the connection's distinct-lane limit.
    fn check_lane_budget(&self, lane: &Lane) -> Result<(), SessionError> {
        let Lane::Named(name) = lane else {
            return Ok(());
        };
        let mut named: BTreeSet<&str> = self
            .lanes
            .iter()
            .filter(|(_, state)| state.in_flight() || !state.queue.is_empty())
            .filter_map(|(lane, _)| lane.stream_id())
            .collect();
        if let Connection::Up { named_lanes, .. } = &self.connection {
            named.extend(named_lanes.iter().map(|name| &**name));
        }
        if named.contains(&**name) || named.len() < self.config.max_named_lanes {
            Ok(())
        } else {
            Err(SessionError::TooManyLanes {
                limit: self.config.max_named_lanes,
            })
        }
    }

    /// Refuses a request when the lane queues are full.
    fn check_queue_room(&self) -> Result<(), SessionError> {
        let queued: usize = self.lanes.values().map(|state| state.queue.len()).sum();
        if queued < self.config.max_queued {
            Ok(())
        } else {
            Err(SessionError::QueueFull {
                limit: self.config.max_queued,
            })
        }
    }

    fn enqueue(&mut self, lane: &Lane, mut request: ResponseCreate) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let input = match request.input.take() {
            Some(Input::Text(text)) => alloc::vec![Item::user_message(text)],
            Some(Input::List(items)) => items,
            None => Vec::new(),
        };
        let mut settings = settings_of(&request);
        settings.generate = request.generate;
        let request = Request::new(id, settings, input, false);
        self.lane_mut(lane).queue.push_back(request);
        id
    }

    fn answer(
        &mut self,
        lane: &Lane,
        call_id: &str,
        answer: impl FnOnce(&super::tools::ToolCall) -> Result<Item, ToolOutputError>,
    ) -> Result<(), SessionError> {
        let state = self.lane_mut(lane);
        let Phase::AwaitingTools(pending) = &mut state.phase else {
            return Err(SessionError::NoPendingCalls(lane.clone()));
        };
        pending.answer(call_id, answer)?;
        let complete = pending.is_complete();
        let output = pending.answer_of(call_id).cloned();
        self.journal_output(lane, call_id, output.as_ref());
        if complete {
            self.continue_after_tools(lane);
        }
        Ok(())
    }

    /// The lane's tool calls all have their answers: the continuation goes first in its
    /// queue, and out when it can.
    fn continue_after_tools(&mut self, lane: &Lane) {
        let state = self.lane_mut(lane);
        let Phase::AwaitingTools(pending) = mem::take(&mut state.phase) else {
            return;
        };
        let settings = state.settings.clone().unwrap_or_default();
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let mut continuation = Request::new(id, settings, pending.into_answers(), false);
        continuation.answers = true;
        self.lane_mut(lane).queue.push_front(continuation);
        self.pump();
    }

    /// Sends what can be sent: for each lane that is idle and not held by a fork, its next
    /// request, while the in-flight cap allows; or asks for a new connection once the
    /// connection is old enough and nothing is in flight.
    fn pump(&mut self) {
        let Connection::Up { since, .. } = self.connection else {
            return;
        };
        let in_flight = self.in_flight();
        if self.now >= since + self.config.rotate_after {
            if in_flight == 0 {
                self.retire(ReconnectReason::Rotation);
            }
            return;
        }
        let mut budget = self.config.max_in_flight.saturating_sub(in_flight);
        let ready: Vec<Lane> = self
            .lanes
            .iter()
            .filter(|(_, state)| {
                matches!(state.phase, Phase::Idle)
                    && state.forks_pending == 0
                    && !state.queue.is_empty()
            })
            .map(|(lane, _)| lane.clone())
            .collect();
        for lane in ready {
            if budget == 0 {
                break;
            }
            budget -= 1;
            self.dispatch(&lane);
        }
    }

    /// Sends the lane's next queued request.
    fn dispatch(&mut self, lane: &Lane) {
        let state = self.lanes.get_mut(lane).expect("dispatch of a known lane");
        let Some(mut request) = state.queue.pop_front() else {
            return;
        };
        // Write-ahead: the records of what this request carries are queued before its frame.
        let input = (!request.in_ledger && !request.answers).then_some(request.input.as_slice());
        self.journal_dispatch(lane, &request.settings, input);
        let ledger = self.ledger.lane_mut(lane);
        if !request.in_ledger {
            ledger.push_input(mem::take(&mut request.input));
            request.in_ledger = true;
        }
        let plan = ledger.plan(&request.settings);
        if let Some(reason) = plan.full_context {
            self.events.push_back(SessionEvent::FullContext {
                lane: lane.clone(),
                request: request.id,
                reason,
            });
        }
        let chained = plan.previous_response_id.is_some();
        let create = ResponseCreate {
            stream_id: lane.stream_id().map(String::from),
            previous_response_id: plan.previous_response_id,
            input: Some(Input::List(plan.input)),
            ..request.settings.clone()
        };
        self.outbox.push_back(ClientEvent::from(create).to_json());
        if let (Lane::Named(name), Connection::Up { named_lanes, .. }) =
            (lane, &mut self.connection)
        {
            named_lanes.insert(name.clone());
        }
        request.attempts += 1;
        let now = self.now;
        let state = self.lane_mut(lane);
        // Continuations and successors reuse these; a warm-up's `generate: false` is its own.
        state.settings = Some(ResponseCreate {
            generate: None,
            ..request.settings.clone()
        });
        state.phase = Phase::Sent(Active::new(request, chained, now));
    }

    // --- Server events ----------------------------------------------------------------------

    fn on_response_event(&mut self, lane: Lane, event: ServerEvent<'_>, frame: &Utf8Bytes) {
        let state = self.lane_mut(&lane);
        let starts = matches!(
            event.kind,
            EventKind::Created(_) | EventKind::Queued(_) | EventKind::InProgress(_)
        );
        match mem::take(&mut state.phase) {
            Phase::Sent(active) => {
                state.phase = Phase::Streaming(active, Box::default());
                self.on_started(&lane, event, frame)
            }
            Phase::Streaming(active, assembly) => {
                state.phase = Phase::Streaming(active, assembly);
                self.on_streaming(&lane, event, frame)
            }
            phase @ (Phase::AwaitingSuccessor | Phase::AwaitingTools(_) | Phase::Idle)
                if starts
                    && (matches!(phase, Phase::AwaitingSuccessor)
                        || state.has_accepted_steer()) =>
            {
                // The server started a successor of a steered response by itself.
                let settings = state.settings.clone().unwrap_or_default();
                let id = RequestId(self.next_request);
                self.next_request += 1;
                let mut request = Request::new(id, settings, Vec::new(), true);
                request.attempts = 1;
                let now = self.now;
                let state = self.lane_mut(&lane);
                state.phase = Phase::Streaming(Active::new(request, true, now), Box::default());
                self.on_started(&lane, event, frame)
            }
            phase => {
                state.phase = phase;
                self.events.push_back(SessionEvent::Unrouted {
                    event: event.into_owned(),
                });
            }
        }
    }

    /// The first event of a request: it has started. Steering input the server held is now
    /// part of the conversation.
    fn on_started(&mut self, lane: &Lane, event: ServerEvent<'_>, frame: &Utf8Bytes) {
        let state = self.lane_mut(lane);
        let applied = state.take_accepted_steers();
        let Phase::Streaming(active, _) = &state.phase else {
            return;
        };
        let request = active.request.id;
        let response_id = event
            .response()
            .map(|response| response.id.clone())
            .unwrap_or_default();
        let steered: Vec<Item> = applied.into_iter().flat_map(input_items).collect();
        self.journal_started(lane, &response_id, &steered);
        self.ledger.lane_mut(lane).push_input(steered);
        self.events.push_back(SessionEvent::Started {
            lane: lane.clone(),
            request,
            response_id,
        });
        self.on_streaming(lane, event, frame);
    }

    fn on_streaming(&mut self, lane: &Lane, event: ServerEvent<'_>, frame: &Utf8Bytes) {
        let state = self.lane_mut(lane);
        let Phase::Streaming(active, assembly) = &mut state.phase else {
            return;
        };
        assembly.push(&event);
        let request = active.request.id;
        let fork_started = matches!(event.kind, EventKind::InProgress(_));
        let terminal = event.is_terminal();
        if fork_started {
            self.release_fork(lane);
        }
        if self.config.stream_events {
            self.events.push_back(SessionEvent::Stream {
                lane: lane.clone(),
                request,
                event: StreamEvent::from_frame(frame.clone()),
            });
        }
        if terminal {
            self.on_terminal(lane);
        }
    }

    /// The running response of `lane` ended with a terminal event.
    fn on_terminal(&mut self, lane: &Lane) {
        self.release_fork(lane);
        let state = self.lane_mut(lane);
        let Phase::Streaming(active, assembly) = mem::take(&mut state.phase) else {
            return;
        };
        let Some(Assembled {
            response,
            anomalies,
        }) = assembly.finish()
        else {
            return;
        };
        let request = active.request.id;
        let injected = self.lane_mut(lane).injections.take_committed();
        if response.status == Some(ResponseStatus::Failed) {
            self.hand_back_injected(lane, [injected]);
            if active.chained {
                self.ledger
                    .lane_mut(lane)
                    .forget(FullContextReason::Evicted);
            }
            let error = RequestError::ResponseFailed(Box::new(response));
            self.events.push_back(SessionEvent::Failed {
                lane: lane.clone(),
                request,
                error,
            });
            return;
        }
        let pending = PendingCalls::of(&response).and_then(|calls| calls.without(&injected));
        let settings = &active.request.settings;
        self.journal_completed(lane, settings, &response, &injected, pending.as_ref());
        self.ledger
            .lane_mut(lane)
            .commit(&active.request.settings, &response, injected);
        if !self.config.connection_cache {
            // Nothing holds the response but the store (if `store: true`).
            self.ledger
                .lane_mut(lane)
                .forget(FullContextReason::NewConnection);
        }
        let steered = response
            .incomplete_details
            .as_ref()
            .is_some_and(|details| details.reason == Some(IncompleteReason::Steered));
        let response_id = response.id.clone();
        self.events.push_back(SessionEvent::Completed {
            lane: lane.clone(),
            request,
            response: Box::new(response),
            anomalies,
        });
        let phase = match pending {
            _ if steered => Phase::AwaitingSuccessor,
            Some(pending) => {
                let calls = pending.calls.clone();
                self.events.push_back(SessionEvent::ToolCalls {
                    lane: lane.clone(),
                    response_id,
                    calls,
                });
                Phase::AwaitingTools(pending)
            }
            None => Phase::Idle,
        };
        self.lane_mut(lane).phase = phase;
    }

    fn on_error(&mut self, echoed: bool, lane: Lane, error: Box<ApiError>) {
        let code = error.code.as_deref().unwrap_or("");
        if code == CONNECTION_LIMIT {
            self.retire(ReconnectReason::ConnectionLimit);
            return;
        }
        let state = self.lane_mut(&lane);
        match mem::take(&mut state.phase) {
            Phase::Sent(mut active) if code == PREVIOUS_NOT_FOUND && !active.request.replayed => {
                // The one automatic replay: the same request again, with the full context.
                active.request.replayed = true;
                state.queue.push_front(active.request);
                self.ledger
                    .lane_mut(&lane)
                    .forget(FullContextReason::PreviousResponseNotFound);
            }
            Phase::Sent(active) | Phase::Streaming(active, _) => {
                if active.chained {
                    let why = if code == PREVIOUS_NOT_FOUND {
                        FullContextReason::PreviousResponseNotFound
                    } else {
                        FullContextReason::Evicted
                    };
                    self.ledger.lane_mut(&lane).forget(why);
                }
                self.release_fork_of(&active.request);
                let request = active.request.id;
                // The response will not end: its injections get no verdict.
                let injected = self.lane_mut(&lane).injections.abandon();
                self.events.push_back(SessionEvent::Failed {
                    lane: lane.clone(),
                    request,
                    error: RequestError::Api(error),
                });
                self.hand_back_injected(&lane, injected);
            }
            phase => {
                state.phase = phase;
                if echoed {
                    let event = ServerEvent {
                        stream_id: lane.stream_id().map(|s| String::from(s).into()),
                        sequence_number: None,
                        kind: EventKind::Error(error),
                    };
                    self.events.push_back(SessionEvent::Unrouted { event });
                } else {
                    // No request of the default lane waits: the error concerns the connection.
                    self.retire(ReconnectReason::ServerError(error));
                }
            }
        }
    }

    // --- Connection lifecycle ---------------------------------------------------------------

    /// Stops using the connection and asks for a new one.
    fn retire(&mut self, reason: ReconnectReason) {
        if matches!(self.connection, Connection::Up { .. }) {
            // A rotation happens only with nothing in flight: no request sees its cause.
            let cause = reason.failure().unwrap_or(Failure::Dropped);
            self.end_connection(&cause, true);
            self.connection = Connection::Retiring;
            self.events.push_back(SessionEvent::Reconnect { reason });
        }
    }

    /// Whatever the connection was doing is over (because of `cause`): unstarted requests go
    /// back to the front of their queue while they have attempts left, started ones fail
    /// (or go back, when the policy retries them), held steers are handed back, forks stop
    /// holding their source, and the server's cache is gone.
    ///
    /// With `retry` off (retrying is over), unstarted requests go back to the queue without a
    /// word, for [`give_up`](Self::give_up) to fail.
    fn end_connection(&mut self, cause: &Failure, retry: bool) {
        if matches!(self.connection, Connection::Down) {
            return;
        }
        self.connection = Connection::Down;
        self.ledger.new_connection();
        // Frames held for their records were meant for this connection: their requests are
        // replanned below (and their records stay valid: they describe the conversation).
        self.outbox.clear();
        let lanes: Vec<Lane> = self.lanes.keys().cloned().collect();
        for lane in lanes {
            self.end_lane_traffic(&lane, cause, retry);
        }
    }

    /// What [`end_connection`](Self::end_connection) does to one lane: its request in flight
    /// goes back to the queue or fails, its held steers and injections are handed back.
    fn end_lane_traffic(&mut self, lane: &Lane, cause: &Failure, retry: bool) {
        let state = self.lane_mut(lane);
        let steers = mem::take(&mut state.steers);
        let phase = mem::take(&mut state.phase);
        let phase = match phase {
            Phase::Sent(active) => {
                self.release_fork_of(&active.request);
                if retry {
                    self.retry_or_fail(lane, active, RetrySafety::SentNotStarted, cause);
                } else {
                    self.lane_mut(lane).queue.push_front(active.request);
                }
                Phase::Idle
            }
            Phase::Streaming(active, _) => {
                self.release_fork_of(&active.request);
                if retry && self.config.retry.retry_started && active.abandoned.is_none() {
                    self.retry_or_fail(lane, active, RetrySafety::Started, cause);
                } else {
                    let error = active
                        .abandoned
                        .map_or(RequestError::Interrupted, Abandoned::error);
                    self.events.push_back(SessionEvent::Failed {
                        lane: lane.clone(),
                        request: active.request.id,
                        error,
                    });
                }
                Phase::Idle
            }
            // A successor the server would have started is lost with the connection.
            Phase::AwaitingSuccessor => Phase::Idle,
            other => other,
        };
        self.lane_mut(lane).phase = phase;
        let injected = self.lane_mut(lane).injections.abandon();
        self.hand_back_injected(lane, injected);
        for steer in steers {
            self.events.push_back(SessionEvent::SteerFailed {
                lane: lane.clone(),
                input: steer.input,
                error: None,
            });
        }
    }

    /// A request whose connection failed with `cause`: back to the front of its lane's
    /// queue while it has attempts left (it goes out with full context on the next
    /// connection), failed with [`RequestError::GaveUp`] after that.
    fn retry_or_fail(&mut self, lane: &Lane, active: Active, safety: RetrySafety, cause: &Failure) {
        let request = active.request;
        if request.attempts < self.config.retry.max_attempts {
            self.events.push_back(SessionEvent::Retrying {
                lane: lane.clone(),
                request: request.id,
                attempt: request.attempts + 1,
                safety,
                cause: cause.clone(),
            });
            self.lane_mut(lane).queue.push_front(request);
        } else {
            let gave_up = GaveUp::new(cause.clone(), request.attempts, safety);
            self.events.push_back(SessionEvent::Failed {
                lane: lane.clone(),
                request: request.id,
                error: RequestError::GaveUp(Box::new(gave_up)),
            });
        }
    }

    fn release_fork(&mut self, lane: &Lane) {
        let source = match &mut self.lane_mut(lane).phase {
            Phase::Sent(active) | Phase::Streaming(active, _) => active.request.fork_of.take(),
            _ => None,
        };
        if let Some(source) = source {
            self.release_source(&source);
        }
    }

    fn release_fork_of(&mut self, request: &Request) {
        if let Some(source) = &request.fork_of {
            self.release_source(source);
        }
    }

    fn release_source(&mut self, source: &Lane) {
        let state = self.lane_mut(source);
        state.forks_pending = state.forks_pending.saturating_sub(1);
    }

    fn lane(&mut self, lane: &Lane) -> &LaneState {
        self.lane_mut(lane)
    }

    fn lane_mut(&mut self, lane: &Lane) -> &mut LaneState {
        self.lanes.entry(lane.clone()).or_default()
    }
}

impl LaneState {
    fn in_flight(&self) -> bool {
        matches!(self.phase, Phase::Sent(_) | Phase::Streaming(..))
    }

    fn active(&self) -> Option<&Active> {
        match &self.phase {
            Phase::Sent(active) | Phase::Streaming(active, _) => Some(active),
            _ => None,
        }
    }

    fn active_mut(&mut self) -> Option<&mut Active> {
        match &mut self.phase {
            Phase::Sent(active) | Phase::Streaming(active, _) => Some(active),
            _ => None,
        }
    }

    fn has_accepted_steer(&self) -> bool {
        self.steers.iter().any(|steer| steer.id.is_some())
    }

    /// Removes the accepted steers (the server applies them to the response that starts now)
    /// and returns their input.
    fn take_accepted_steers(&mut self) -> Vec<Input> {
        let (accepted, waiting) = mem::take(&mut self.steers)
            .into_iter()
            .partition(|s| s.id.is_some());
        self.steers = waiting;
        accepted
            .into_iter()
            .map(|steer: Steer| steer.input)
            .collect()
    }
}

/// Input as items: text becomes one user message.
fn input_items(input: Input) -> Vec<Item> {
    match input {
        Input::Text(text) => alloc::vec![Item::user_message(text)],
        Input::List(items) => items,
    }
}
