//! [`Pool`]: the state and the API calls. Beside it: `driving` (inputs and outputs of the
//! driving contract), `placement` (which lane serves a turn, when to dial) and `lifecycle`
//! (connection events, turn ends, draining, moving conversations off a failed connection).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;

use super::admission::{Admission, Waiting};
use super::config::PoolConfig;
use super::conversation::{Conversation, Home, Turn, TurnPhase};
use super::events::{PoolError, PoolEvent, Rejected};
use super::gate::DialGate;
use super::ids::{ConnId, ConvId, TurnId};
use super::journal::Journals;
use super::link::Link;
use super::member::{ConnectionPhase, Members};
use super::slots::LaneSlots;
use super::stats::{ConnectionStats, Stats};
use super::timers::Timers;
use super::transport::PoolTransport;
use crate::http_client::{SocketId, Transport};
use crate::session::{Lane, LaneLedger, LaneTransfer, SessionError, ToolCall};
use crate::time::Instant;
use crate::wire::{Input, ResponseCreate, ToolOutput};
use crate::ws::rng::MaskRng;

/// Many conversations on few connections: the pool's decisions as a sans-IO machine.
///
/// See the [module documentation](super) for the driving contract.
///
/// ```
/// use responses_ws_core::client::ClientConfig;
/// use responses_ws_core::pool::{Pool, PoolConfig, PoolEvent};
/// use responses_ws_core::wire::ResponseCreate;
/// use responses_ws_core::ws::WsUrl;
/// use responses_ws_core::Instant;
///
/// let url = WsUrl::parse("ws://127.0.0.1:8080/v1/responses").unwrap();
/// let mut pool = Pool::new(PoolConfig::new(ClientConfig::new(url)), [7; 32]);
/// let agent = pool.open_conversation()?;
/// let turn = pool.turn(agent, ResponseCreate { input: Some("Hi".into()), ..Default::default() }, Instant::ZERO)?;
///
/// // The pool wants a connection and has placed the turn on it.
/// let Some(PoolEvent::Dial { conn }) = pool.poll_event() else { panic!() };
/// assert!(matches!(pool.poll_event(), Some(PoolEvent::TurnAdmitted { turn: t, .. }) if t == turn));
/// assert_eq!(pool.poll_ready(), Some(conn));
/// let upgrade = pool.poll_transmit(conn).unwrap();
/// assert!(upgrade.starts_with(b"GET /v1/responses HTTP/1.1\r\n"));
/// assert_eq!(pool.stats().connections_opening, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Pool {
    pub(super) config: PoolConfig,
    /// Lanes and running turns per connection, within the server's limits.
    pub(super) lanes: usize,
    pub(super) turns_per_connection: usize,
    pub(super) members: Members,
    pub(super) convs: BTreeMap<ConvId, Conversation>,
    pub(super) admission: Admission,
    pub(super) gate: DialGate,
    /// The seeds of new connections.
    pub(super) rng: MaskRng,
    pub(super) events: VecDeque<PoolEvent>,
    /// Connections that may have bytes to write.
    pub(super) ready: BTreeSet<ConnId>,
    /// Every connection's next deadline.
    pub(super) timers: Timers,
    /// The counters of [`Stats`], and `turns_in_flight` (kept as turns are admitted and
    /// end); the other gauges are computed.
    pub(super) totals: Stats,
    /// [`close`](Pool::close) was called: no new turn; connections close as their turns end.
    pub(super) closing: bool,
    /// Journaled conversations and their records not yet handed out.
    pub(super) journals: Journals,
    /// The transport new turns take, and the re-probe of WebSocket mode.
    pub(super) transport: PoolTransport,
    /// The sockets of HTTP connections, by the id the driver knows each by: its member
    /// and the member's name for it. Exactly the open sockets of every HTTP link.
    pub(super) http_sockets: BTreeMap<ConnId, (ConnId, SocketId)>,
    /// What HTTP sockets are read into (one read at a time: `input_buffer`, then
    /// `commit_input`); allocated at the first such read.
    pub(super) http_input: Vec<u8>,
    pub(super) next_conn: u64,
    next_conv: u64,
    next_turn: u64,
}

impl Pool {
    /// An empty pool: no connection is opened before a turn needs one. `seed` is 32 random
    /// bytes (from the OS, in adapters): each connection's key, masks and the backoff jitter
    /// come from it.
    pub fn new(config: PoolConfig, seed: [u8; 32]) -> Self {
        let (config_transport, reprobe_after) = (config.transport, config.reprobe_after);
        let gate = DialGate::new(
            config.upgrade_backoff.clone(),
            config.dial_interval,
            config.max_opening,
        );
        Pool {
            lanes: config.lanes(),
            turns_per_connection: config.turns_per_connection(),
            admission: Admission::new(config.max_waiting),
            config,
            members: BTreeMap::new(),
            convs: BTreeMap::new(),
            gate,
            rng: MaskRng::new(seed),
            events: VecDeque::new(),
            ready: BTreeSet::new(),
            timers: Timers::default(),
            totals: Stats::default(),
            closing: false,
            journals: Journals::default(),
            transport: PoolTransport::new(config_transport, reprobe_after),
            http_sockets: BTreeMap::new(),
            http_input: Vec::new(),
            next_conn: 0,
            next_conv: 0,
            next_turn: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    // --- Conversations ----------------------------------------------------------------------

    /// A new conversation (an agent's handle). Refused beyond
    /// [`PoolConfig::max_conversations`].
    pub fn open_conversation(&mut self) -> Result<ConvId, PoolError> {
        if self.convs.len() >= self.config.max_conversations {
            return Err(PoolError::TooManyConversations {
                limit: self.config.max_conversations,
            });
        }
        let conv = ConvId(self.next_conv);
        self.next_conv += 1;
        self.convs.insert(conv, Conversation::new());
        Ok(conv)
    }

    /// A conversation that continues `context` (a saved [`LaneLedger`], or another
    /// conversation's): its first turn sends the whole context, or chains from its last
    /// response when that was stored (`store: true`).
    pub fn restore_conversation(&mut self, context: LaneLedger) -> Result<ConvId, PoolError> {
        let conv = self.open_conversation()?;
        let entry = self.convs.get_mut(&conv).expect("just opened");
        entry.home = Home::Parked(Box::new(LaneTransfer::from(context)));
        Ok(conv)
    }

    /// A new conversation that starts from `from`'s context as it is now; the two go on
    /// independently. Refused while `from` has a turn (its context is still changing).
    pub fn fork_conversation(&mut self, from: ConvId) -> Result<ConvId, PoolError> {
        let entry = self
            .convs
            .get(&from)
            .ok_or(PoolError::UnknownConversation(from))?;
        if entry.turn.is_some() {
            return Err(PoolError::Busy(from));
        }
        let context = self.ledger(from).cloned().unwrap_or_default();
        self.restore_conversation(context)
    }

    /// Forgets a conversation that has no turn (its context is dropped).
    pub fn close_conversation(&mut self, conv: ConvId) -> Result<(), PoolError> {
        let entry = self
            .convs
            .get(&conv)
            .ok_or(PoolError::UnknownConversation(conv))?;
        if entry.turn.is_some() {
            return Err(PoolError::Busy(conv));
        }
        self.forget_journal(conv);
        if let Some(Home::Placed { conn, .. }) = self.convs.get(&conv).map(|c| &c.home) {
            self.gather(*conn);
        }
        if let Some(Conversation {
            home: Home::Placed { conn, slot },
            ..
        }) = self.convs.remove(&conv)
        {
            if let Some(member) = self.members.get_mut(&conn) {
                // At rest (no turn): the export cannot be refused, and is dropped.
                let _ = member.link.export_lane(&LaneSlots::lane(slot));
                member.vacate(slot);
                self.timers.mark(conn);
            }
        }
        Ok(())
    }

    /// The conversation's context (every item, in order), wherever it is.
    pub fn ledger(&self, conv: ConvId) -> Option<&LaneLedger> {
        match &self.convs.get(&conv)?.home {
            Home::Parked(transfer) => Some(transfer.ledger()),
            Home::Placed { conn, slot } => {
                let session = self.members.get(conn)?.link.session();
                session.ledger().lane(&LaneSlots::lane(*slot))
            }
        }
    }

    /// Starts a turn of `conv` with `request` (new input only: the pool adds the lane and
    /// the context). It gets a lane at once if one is free (a connection is dialed when
    /// allowed and needed), else it waits, first come first served, for at most
    /// [`PoolConfig::max_wait`]. Refused with the request handed back when
    /// [`PoolConfig::max_waiting`] turns wait already ([`PoolError::Overloaded`]), when the
    /// conversation has a turn already, or when the request sets `stream_id` or
    /// `previous_response_id`.
    pub fn turn(
        &mut self,
        conv: ConvId,
        request: ResponseCreate,
        now: Instant,
    ) -> Result<TurnId, Rejected<ResponseCreate>> {
        self.start_turn(conv, request, true, now)
    }

    /// [`turn`](Self::turn), but never waits: refused with [`PoolError::Overloaded`] (the
    /// request handed back) unless a lane is free now and no turn waits before it.
    pub fn try_turn(
        &mut self,
        conv: ConvId,
        request: ResponseCreate,
        now: Instant,
    ) -> Result<TurnId, Rejected<ResponseCreate>> {
        self.start_turn(conv, request, false, now)
    }

    fn start_turn(
        &mut self,
        conv: ConvId,
        request: ResponseCreate,
        may_wait: bool,
        now: Instant,
    ) -> Result<TurnId, Rejected<ResponseCreate>> {
        if let Err(error) = self.check_turn(conv, &request) {
            return Err(Rejected::new(error, request));
        }
        let overloaded = PoolError::Overloaded {
            waiting: self.admission.waiting(),
            limit: self.config.max_waiting,
        };
        let place = if self.admission.is_empty() {
            self.find_or_dial(conv, now)
        } else {
            None
        };
        if place.is_none() && !(may_wait && self.admission.has_room()) {
            return Err(Rejected::new(overloaded, request));
        }
        let turn = self.next_turn_id();
        let entry = self.convs.get_mut(&conv).expect("checked");
        entry.turn = Some(Turn::new(turn, TurnPhase::Waiting));
        match place {
            Some((conn, slot)) => self.place(conv, conn, slot, Some(request), now),
            None => {
                self.admission.push(Waiting {
                    turn,
                    conv,
                    request,
                    deadline: now + self.config.max_wait,
                });
                self.admit(now);
            }
        }
        Ok(turn)
    }

    pub(super) fn next_turn_id(&mut self) -> TurnId {
        self.next_turn += 1;
        TurnId(self.next_turn - 1)
    }

    fn check_turn(&self, conv: ConvId, request: &ResponseCreate) -> Result<(), PoolError> {
        self.check_startable(conv)?;
        if request.stream_id.is_some() {
            return Err(SessionError::OwnedField("stream_id").into());
        }
        if request.previous_response_id.is_some() {
            return Err(SessionError::OwnedField("previous_response_id").into());
        }
        Ok(())
    }

    /// Shuts the pool down gracefully: no new turn is taken ([`PoolError::Closed`]); turns
    /// still waiting end with [`TurnError::Closed`](super::TurnError::Closed), their
    /// requests handed back; running turns (and turns moving off a failed connection) run to
    /// their end, then every connection closes. [`is_closed`](Self::is_closed) says when
    /// it is over.
    pub fn close(&mut self, now: Instant) {
        self.closing = true;
        while let Some(waiting) = self.admission.pop_waiting() {
            let request = alloc::boxed::Box::new(waiting.request);
            self.end_turn(
                waiting.conv,
                Some(super::events::TurnError::Closed { request }),
            );
        }
        let conns: alloc::vec::Vec<ConnId> = self.members.keys().copied().collect();
        for conn in conns {
            self.start_drain(conn, now);
        }
    }

    /// Whether [`close`](Self::close) is done: no turn runs and every connection is closed.
    pub fn is_closed(&self) -> bool {
        self.closing && self.members.is_empty() && self.admission.is_empty()
    }

    /// Withdraws a turn that still waits for a lane (its waiter was cancelled) and hands its
    /// request back; `None` once it has a lane (it runs to its end then).
    pub fn cancel_turn(&mut self, turn: TurnId) -> Option<ResponseCreate> {
        let waiting = self.admission.cancel(turn)?;
        if let Some(entry) = self.convs.get_mut(&waiting.conv) {
            entry.turn = None;
        }
        Some(waiting.request)
    }

    /// Answers the tool call `call_id` of the conversation's running turn; the continuation
    /// goes out once every call has its output. Each call takes exactly one output, also
    /// while the conversation moves between connections. Calls left open by a turn whose
    /// listener went away ([`detach_turn`](Self::detach_turn)) take their outputs here too,
    /// between turns: they go out with the conversation's next turn.
    pub fn submit_tool_output(
        &mut self,
        conv: ConvId,
        call_id: &str,
        output: impl Into<ToolOutput>,
        now: Instant,
    ) -> Result<(), PoolError> {
        let output = output.into();
        self.answer(conv, now, |to| match to {
            Answer::Parked(transfer) => transfer.submit_tool_output(call_id, output),
            Answer::Placed(client, lane) => client.submit_tool_output(lane, call_id, output),
        })
    }

    /// Approves or refuses the MCP approval request `request_id` of the conversation's last
    /// response, as [`submit_tool_output`](Self::submit_tool_output) answers a tool call.
    pub fn submit_approval(
        &mut self,
        conv: ConvId,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
        now: Instant,
    ) -> Result<(), PoolError> {
        self.answer(conv, now, |to| match to {
            Answer::Parked(transfer) => transfer.submit_approval(request_id, approve, reason),
            Answer::Placed(client, lane) => {
                client.submit_approval(lane, request_id, approve, reason)
            }
        })
    }

    /// Gives `answer` the conversation wherever it is.
    fn answer(
        &mut self,
        conv: ConvId,
        now: Instant,
        answer: impl FnOnce(Answer<'_>) -> Result<(), SessionError>,
    ) -> Result<(), PoolError> {
        let entry = self
            .convs
            .get_mut(&conv)
            .ok_or(PoolError::UnknownConversation(conv))?;
        match &mut entry.home {
            Home::Parked(transfer) => {
                answer(Answer::Parked(transfer))?;
                self.gather_parked(conv);
                Ok(())
            }
            Home::Placed { conn, slot } => {
                let (conn, lane) = (*conn, LaneSlots::lane(*slot));
                let member = self
                    .members
                    .get_mut(&conn)
                    .expect("a placed conversation's");
                answer(Answer::Placed(&mut member.link, &lane))?;
                self.after_input(conn, now);
                Ok(())
            }
        }
    }

    /// The tool calls (and MCP approval requests) of the conversation's last response that
    /// wait for an answer: those of its running turn, or those a turn whose listener went
    /// away left open ([`detach_turn`](Self::detach_turn)).
    pub fn pending_tool_calls(&self, conv: ConvId) -> Vec<ToolCall> {
        match self.convs.get(&conv).map(|c| &c.home) {
            Some(Home::Parked(transfer)) => transfer.pending_tool_calls(),
            Some(Home::Placed { conn, slot }) => self.members[conn]
                .link
                .session()
                .pending_tool_calls(&LaneSlots::lane(*slot)),
            None => Vec::new(),
        }
    }

    /// Nobody listens to `turn` of `conv` any more (its handle was dropped). A turn still
    /// waiting for a lane is withdrawn ([`cancel_turn`](Self::cancel_turn)); a running one
    /// ends as soon as nothing of it is in flight: a response still streaming runs to its
    /// end (a sent request cannot be taken back), and then, or at once, a turn whose
    /// response asks for tool outputs or MCP approvals ends with them open. The conversation
    /// stays usable: its open calls take their answers with
    /// [`submit_tool_output`](Self::submit_tool_output) and
    /// [`submit_approval`](Self::submit_approval), and go out with its next turn
    /// ([`turn`](Self::turn) once all are answered, or [`continue_turn`](Self::continue_turn)
    /// for no new input).
    pub fn detach_turn(&mut self, conv: ConvId, turn: TurnId, now: Instant) {
        let Some(current) = self.convs.get_mut(&conv).and_then(|c| c.turn.as_mut()) else {
            return;
        };
        if current.id != turn {
            return;
        }
        if current.phase == TurnPhase::Waiting {
            self.cancel_turn(turn);
            return;
        }
        current.unheard = true;
        let (placed, settled) = match &self.convs[&conv].home {
            Home::Placed { conn, .. } => (Some(*conn), false),
            Home::Parked(transfer) => (None, transfer.awaits_tools()),
        };
        if let Some(conn) = placed {
            self.drain_client(conn, now);
        } else if settled {
            // Moving off a lost connection with nothing but calls open: over now.
            self.admission.withdraw(conv);
            self.end_turn(conv, None);
        }
        self.admit(now);
    }

    /// Starts a turn that sends only what `conv` owes: the answers its open tool calls
    /// (or MCP approvals) were given since its last turn ended
    /// ([`detach_turn`](Self::detach_turn)), for the model's next response. It takes a lane
    /// ahead of waiting turns. Refused while calls are unanswered
    /// ([`PoolError::ToolCallsOpen`]) and when nothing is owed.
    pub fn continue_turn(&mut self, conv: ConvId, now: Instant) -> Result<TurnId, PoolError> {
        let entry = self.check_startable(conv)?;
        // Between turns a conversation with calls open is parked (see `end_resting_turns`).
        let owes = matches!(&entry.home, Home::Parked(transfer) if !transfer.is_idle());
        if !owes {
            return Err(SessionError::NoPendingCalls(Lane::Default).into());
        }
        let turn = self.next_turn_id();
        let entry = self.convs.get_mut(&conv).expect("checked");
        entry.turn = Some(Turn::new(turn, TurnPhase::Resuming));
        self.totals.turns_in_flight += 1;
        self.admission.resume(conv);
        self.admit(now);
        Ok(turn)
    }

    /// Whether `conv` may start a turn now (a new one or a continuation): it exists, the pool
    /// is open, no turn of it runs or waits, it is not fenced and no call of its last
    /// response waits for an answer. Gives its entry.
    fn check_startable(&self, conv: ConvId) -> Result<&Conversation, PoolError> {
        let entry = self
            .convs
            .get(&conv)
            .ok_or(PoolError::UnknownConversation(conv))?;
        if self.closing {
            return Err(PoolError::Closed);
        }
        if entry.turn.is_some() {
            return Err(PoolError::Busy(conv));
        }
        self.check_fenced(conv)?;
        self.check_answered(conv)?;
        Ok(entry)
    }

    /// Refuses a new turn of `conv` while calls of its last response wait for answers.
    fn check_answered(&self, conv: ConvId) -> Result<(), PoolError> {
        match self.pending_tool_calls(conv).is_empty() {
            true => Ok(()),
            false => Err(PoolError::ToolCallsOpen(conv)),
        }
    }

    /// Steers the running response of `conv`'s turn with more user input (see
    /// [`Session::steer`](crate::session::Session::steer)). Refused, the input handed back,
    /// when no response of the conversation is running.
    pub fn steer(
        &mut self,
        conv: ConvId,
        input: impl Into<Input>,
        now: Instant,
    ) -> Result<(), Rejected<Input>> {
        let input = input.into();
        let Some(entry) = self.convs.get(&conv) else {
            return Err(Rejected::new(PoolError::UnknownConversation(conv), input));
        };
        let Home::Placed { conn, slot } = entry.home else {
            let error = SessionError::NothingToSteer(Lane::Default);
            return Err(Rejected::new(error.into(), input));
        };
        let member = self
            .members
            .get_mut(&conn)
            .expect("a placed conversation's");
        let result = member.link.steer(&LaneSlots::lane(slot), input);
        self.after_input(conn, now);
        result.map_err(|refused| {
            let (error, input) = refused.into_parts();
            Rejected::new(error.into(), input)
        })
    }

    /// A snapshot of what the pool holds and has done.
    pub fn stats(&self) -> Stats {
        let mut stats = self.totals;
        stats.connections_open = 0;
        stats.connections_opening = 0;
        stats.connections_draining = 0;
        for member in self.members.values() {
            match member.phase {
                ConnectionPhase::Opening => stats.connections_opening += 1,
                ConnectionPhase::Open => stats.connections_open += 1,
                ConnectionPhase::Draining | ConnectionPhase::Closing => {
                    stats.connections_draining += 1
                }
            }
        }
        stats.conversations = self.convs.len();
        stats.turns_waiting = self.admission.waiting();
        stats.throttled = self.gate.is_throttled();
        stats.over_http = self.transport.current() == Transport::Http;
        stats.http_sockets = self.http_sockets.len();
        stats
    }

    /// The HTTP connection a socket of [`PoolEvent::Dial`] carries requests for; `None` when
    /// `socket` is a WebSocket connection itself (or unknown). Over HTTP + SSE every request
    /// has a socket of its own, each with its own [`ConnId`], while turns are admitted to
    /// the connection ([`PoolEvent::TurnAdmitted`] names it): this links the two, for logs
    /// and traces.
    ///
    /// ```
    /// use responses_ws_core::client::ClientConfig;
    /// use responses_ws_core::http_client::Transport;
    /// use responses_ws_core::pool::{Pool, PoolConfig, PoolEvent};
    /// use responses_ws_core::wire::ResponseCreate;
    /// use responses_ws_core::ws::WsUrl;
    /// use responses_ws_core::Instant;
    ///
    /// let client = ClientConfig::new(WsUrl::parse("ws://127.0.0.1:8080/v1/responses")?);
    /// let mut config = PoolConfig::new(client);
    /// config.transport = Transport::Http;
    /// let mut pool = Pool::new(config, [7; 32]);
    /// let conv = pool.open_conversation()?;
    /// pool.turn(conv, ResponseCreate::new("gpt-5.5").input("Hi"), Instant::ZERO)?;
    /// let (mut admitted_to, mut socket) = (None, None);
    /// while let Some(event) = pool.poll_event() {
    ///     match event {
    ///         PoolEvent::TurnAdmitted { conn, .. } => admitted_to = Some(conn),
    ///         PoolEvent::Dial { conn } => socket = Some(conn),
    ///         _ => {}
    ///     }
    /// }
    /// let socket = socket.expect("the request's socket");
    /// assert_ne!(Some(socket), admitted_to);
    /// assert_eq!(pool.http_connection_of(socket), admitted_to);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn http_connection_of(&self, socket: ConnId) -> Option<ConnId> {
        self.http_sockets.get(&socket).map(|&(conn, _)| conn)
    }

    /// Every connection, in id order.
    pub fn connections(&self) -> impl Iterator<Item = ConnectionStats> + '_ {
        self.members.iter().map(|(&conn, member)| ConnectionStats {
            conn,
            phase: member.phase,
            transport: member.transport(),
            turns_running: member.slots.busy(),
            conversations: member.slots.occupied().count(),
        })
    }
}

/// Where an answer to a tool call goes: the conversation between connections, or its lane.
enum Answer<'a> {
    Parked(&'a mut LaneTransfer),
    Placed(&'a mut Link, &'a Lane),
}
