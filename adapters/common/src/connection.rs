//! [`ConnectionState`]: what a plain connection is apart from its sockets and its way of
//! waiting — the session's [`Machine`], the memory of connection attempts, the store and the
//! store's last failure, the trace, and the events set aside for the application — with the
//! calls the async and the blocking driver make on it the same way. A driver owns one and
//! adds only IO: reading, writing, dialing and waiting.
//!
//! Invariants: an event is handed to the application (and so to [`ConnectionState::observe`])
//! once; a store failure is kept until the next call of the API returns it, and while the
//! store holds records back ([`Durable::is_clear`]) the driver writes no byte.

use std::collections::VecDeque;
use std::time::Duration;

use responses_ws_core::client::{Client, ClientEvent};
use responses_ws_core::http_client::{HttpClient, SocketId, Transport};
use responses_ws_core::session::{Lane, RequestId, Session};
use responses_ws_core::wire::{Input, Item, ResponseCreate, ToolOutput};
use responses_ws_core::ws::Header;
use responses_ws_core::Instant;
use responses_ws_store::StoreError;
use responses_ws_tls::TlsConfig;

use crate::{
    Attempts, ConfigParts, ConnectError, ConnectionTrace, Durable, Error, Establishing, Machine,
    MachineEvent, Resumed, SocketRequest, StoreConfig, MAX_SET_ASIDE_EVENTS,
};

/// The state of one connection that both drivers keep and use alike.
///
/// ```
/// use responses_ws_adapter::{Config, ConnectionState, ResponseCreate, Transport};
/// use responses_ws_adapter::responses_ws_core::Instant;
///
/// let config = Config::new("ws://127.0.0.1:9/v1/responses")?.transport(Transport::Http);
/// let (mut state, sockets) = ConnectionState::new(config.into_parts());
/// assert_eq!(sockets.connect_timeout, responses_ws_adapter::DEFAULT_CONNECT_TIMEOUT);
/// state.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
/// // Over HTTP the request asks for a socket of its own; the driver dials it.
/// let mut dialed = Vec::new();
/// let event = state.next_machine_event(|| Instant::ZERO, |_, request| dialed.push(request));
/// assert!(event.is_none());
/// assert_eq!(dialed.len(), 1);
/// assert_eq!(state.session().in_flight(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ConnectionState {
    /// The session, on WebSocket mode or HTTP + SSE.
    pub machine: Machine,
    /// The last attempt's error, the last upgrade's headers.
    attempts: Attempts,
    /// Events taken from the core and not handed out yet: events of the connection an
    /// upgrade replaces, events of other lanes during a tool loop, events that arrived while
    /// a call waited (for room, a write, `close`, tool handlers).
    set_aside: VecDeque<ClientEvent>,
    /// Where journaled conversations are written before their bytes go out, if anywhere.
    pub(crate) durable: Option<Durable>,
    /// The store's last failure, for the next call to return.
    store_error: Option<StoreError>,
    /// The `tracing` spans (feature `tracing`; nothing without it).
    trace: ConnectionTrace,
}

/// What a driver keeps of a configuration beside its [`ConnectionState`]: how to open
/// sockets.
///
/// ```
/// use responses_ws_adapter::{Config, ConnectionState};
///
/// let config = Config::new("wss://api.openai.com/v1/responses")?;
/// let (_, sockets) = ConnectionState::new(config.into_parts());
/// assert_eq!(sockets.connect_timeout, responses_ws_adapter::DEFAULT_CONNECT_TIMEOUT);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct SocketParts<X> {
    /// DNS, TCP and TLS together (and the upgrade, from the dial's start).
    pub connect_timeout: Duration,
    /// TLS settings for `wss://`.
    pub tls: TlsConfig,
    /// The adapter's own settings.
    pub extra: X,
}

impl ConnectionState {
    /// A connection's state made from its configuration, and what the driver keeps to open
    /// sockets. Nothing is opened.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, Transport};
    ///
    /// let config = Config::new("ws://127.0.0.1:9/v1/responses")?;
    /// let (state, _) = ConnectionState::new(config.into_parts());
    /// assert_eq!(state.transport(), Transport::WebSocket);
    /// assert!(!state.is_open(false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new<X>(config: ConfigParts<X>) -> (ConnectionState, SocketParts<X>) {
        let machine = Machine::for_connection(
            config.client,
            config.transport,
            config.http_fallback,
            config.reprobe_after,
        )
        .with_credentials(config.credentials);
        let trace = ConnectionTrace::new(machine.url(), machine.transport());
        let state = ConnectionState {
            machine,
            attempts: Attempts::new(),
            set_aside: VecDeque::new(),
            durable: config.store.map(StoreConfig::into_durable),
            store_error: None,
            trace,
        };
        let sockets = SocketParts {
            connect_timeout: config.connect_timeout,
            tls: config.tls,
            extra: config.extra,
        };
        (state, sockets)
    }

    // --- What the application reads -------------------------------------------------------

    /// The core's WebSocket client (configuration, bytes written and read so far), while
    /// the conversation runs on WebSocket mode; `None` over HTTP + SSE.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState};
    ///
    /// let (state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// assert_eq!(state.client().map(|client| client.byte_counts()), Some((0, 0)));
    /// assert!(state.http_client().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client(&self) -> Option<&Client> {
        self.machine.client()
    }

    /// The core's HTTP + SSE client (open sockets, configuration), while the conversation
    /// runs over HTTP; `None` on WebSocket mode.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, Transport};
    ///
    /// let config = Config::new("ws://127.0.0.1:9/v1/responses")?.transport(Transport::Http);
    /// let (state, _) = ConnectionState::new(config.into_parts());
    /// assert!(state.http_client().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn http_client(&self) -> Option<&HttpClient> {
        self.machine.http()
    }

    /// The session, on either transport: ledger, pending tool calls, requests in flight.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState};
    ///
    /// let (state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// assert_eq!(state.session().in_flight(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session(&self) -> &Session {
        self.machine.session()
    }

    /// The transport the conversation runs on now: WebSocket mode, or HTTP + SSE (asked
    /// for with [`Config::transport`](crate::Config::transport), or after a fallback:
    /// [`ClientEvent::UseHttp`]).
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, Transport};
    ///
    /// let config = Config::new("ws://127.0.0.1:9/v1/responses")?.transport(Transport::Http);
    /// let (state, _) = ConnectionState::new(config.into_parts());
    /// assert_eq!(state.transport(), Transport::Http);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transport(&self) -> Transport {
        self.machine.transport()
    }

    /// Whether the conversation can send: on WebSocket mode, the driver's socket attached
    /// (`socket_up`) and the connection open (upgraded, not closing); over HTTP + SSE, not
    /// closed.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, Transport};
    ///
    /// let config = Config::new("ws://127.0.0.1:9/v1/responses")?.transport(Transport::Http);
    /// let (state, _) = ConnectionState::new(config.into_parts());
    /// assert!(state.is_open(false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_open(&self, socket_up: bool) -> bool {
        match self.machine.client() {
            Some(client) => socket_up && client.is_open(),
            None => self.machine.http().is_some(),
        }
    }

    /// The headers of the server's last `101 Switching Protocols` answer.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState};
    ///
    /// let (state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// assert!(state.handshake_headers().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handshake_headers(&self) -> &[Header] {
        self.attempts.headers()
    }

    // --- The calls of the API ---------------------------------------------------------------

    /// Tells the core the time before a call of the API: the session decides (connection
    /// age, rotation) on the time it last saw, and nothing may have driven the connection
    /// for a while.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState};
    /// use responses_ws_adapter::responses_ws_core::Instant;
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// state.catch_up(Instant::ZERO);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn catch_up(&mut self, now: Instant) {
        self.machine.handle_timeout(now);
    }

    /// Queues a turn on the lane of `request.stream_id` (a turn of the trace begins).
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, ResponseCreate};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// let id = state.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// assert_eq!(id.0, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(&mut self, request: ResponseCreate) -> Result<RequestId, Error> {
        let lane = Lane::from_stream_id(request.stream_id.as_deref());
        let id = self.machine.create(request)?;
        self.trace.turn(id, &lane);
        Ok(id)
    }

    /// Queues the first turn of the new named lane `request.stream_id`, from the last
    /// response of lane `from`.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, Lane, ResponseCreate};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// // The default lane has no response to fork from yet.
    /// let fork = ResponseCreate::new("gpt-5.5").input("Hi").stream_id("b");
    /// assert!(state.fork(&Lane::Default, fork).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fork(&mut self, from: &Lane, request: ResponseCreate) -> Result<RequestId, Error> {
        let lane = Lane::from_stream_id(request.stream_id.as_deref());
        let id = self.machine.fork(from, request)?;
        self.trace.turn(id, &lane);
        Ok(id)
    }

    /// Answers tool call `call_id` of the lane's last response.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, Lane};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// // No such call waits.
    /// assert!(state.submit_tool_output(&Lane::Default, "call_1", "42").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_tool_output(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), Error> {
        Ok(self.machine.submit_tool_output(lane, call_id, output)?)
    }

    /// Approves or refuses MCP approval request `request_id` of the lane's last response.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, Lane};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// assert!(state.submit_approval(&Lane::Default, "mcpr_1", true, None).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_approval(
        &mut self,
        lane: &Lane,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), Error> {
        Ok(self
            .machine
            .submit_approval(lane, request_id, approve, reason)?)
    }

    /// Steers the lane's running response (`response.steer`); WebSocket mode only.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, Error, Lane, Transport};
    ///
    /// let config = Config::new("ws://127.0.0.1:9/v1/responses")?.transport(Transport::Http);
    /// let (mut state, _) = ConnectionState::new(config.into_parts());
    /// assert!(matches!(state.steer(&Lane::Default, "faster"), Err(Error::WebSocketOnly { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn steer(&mut self, lane: &Lane, input: impl Into<Input>) -> Result<(), Error> {
        self.machine.steer(lane, input)
    }

    /// Commits `input` into the lane's running response (`response.inject`); WebSocket
    /// mode only.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, Lane};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// // Nothing runs on the lane.
    /// assert!(state.inject(&Lane::Default, Vec::new()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn inject(&mut self, lane: &Lane, input: Vec<Item>) -> Result<(), Error> {
        self.machine.inject(lane, input)
    }

    /// Journals `lane`'s conversation as `conversation` in the configured store (see
    /// [`Durable::open`]); [`Error::Store`] without a store.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, Error, Lane};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// assert!(matches!(state.journal(&Lane::Default, "conv-1"), Err(Error::Store(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn journal(&mut self, lane: &Lane, conversation: &str) -> Result<(), Error> {
        Durable::required(&mut self.durable)?.open(&mut self.machine, lane, conversation)
    }

    /// Takes conversation `conversation` over from the store and puts it on `lane` (see
    /// [`Durable::resume`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use responses_ws_adapter::{Config, ConnectionState, Lane, MemoryStore};
    ///
    /// let config = Config::new("ws://127.0.0.1:9/v1/responses")?
    ///     .store(Arc::new(MemoryStore::default()), "worker-1");
    /// let (mut state, _) = ConnectionState::new(config.into_parts());
    /// let resumed = state.resume(&Lane::Default, "never-stored")?;
    /// assert!(!resumed.started);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume(&mut self, lane: &Lane, conversation: &str) -> Result<Resumed, Error> {
        Durable::required(&mut self.durable)?.resume(&mut self.machine, lane, conversation)
    }

    /// Ends the lease of `conversation`: another worker may take it on at once.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use responses_ws_adapter::{Config, ConnectionState, Lane, MemoryStore};
    ///
    /// let config = Config::new("ws://127.0.0.1:9/v1/responses")?
    ///     .store(Arc::new(MemoryStore::default()), "worker-1");
    /// let (mut state, _) = ConnectionState::new(config.into_parts());
    /// state.journal(&Lane::Default, "conv-1")?;
    /// state.release("conv-1")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&mut self, conversation: &str) -> Result<(), Error> {
        Ok(Durable::required(&mut self.durable)?.release(conversation)?)
    }

    // --- The store ------------------------------------------------------------------------

    /// Stores the core's write-ahead records, if the connection has a store, before the
    /// driver writes a byte: `false` (the error kept for the next call, the records for the
    /// next try) when the store failed; then nothing may be written.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// assert!(state.persist()); // no store: nothing to keep back
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn persist(&mut self) -> bool {
        let Some(durable) = &mut self.durable else {
            return true;
        };
        match durable.persist(&mut self.machine) {
            Ok(()) => true,
            Err(error) => {
                self.store_error = Some(error);
                false
            }
        }
    }

    /// The store's failure since the last call, if any, as the call's error.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// assert!(state.store_result().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn store_result(&mut self) -> Result<(), Error> {
        match self.store_error.take() {
            Some(error) => Err(Error::Store(error)),
            None => Ok(()),
        }
    }

    /// [`persist`](Self::persist), its failure as the error.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// state.persist_now()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn persist_now(&mut self) -> Result<(), Error> {
        self.persist();
        self.store_result()
    }

    /// Whether every record taken from the core is stored (or there is no store): bytes
    /// may be written.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState};
    ///
    /// let (state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// assert!(state.is_clear());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_clear(&self) -> bool {
        self.durable.as_ref().is_none_or(Durable::is_clear)
    }

    // --- Events ---------------------------------------------------------------------------

    /// The next event for the application from the machine (`None`: it has none now),
    /// carrying out what it asks of the HTTP sockets on the way with `sockets` (dial and
    /// write, close), which gets this state back to tell the machine how it went.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState};
    /// use responses_ws_adapter::responses_ws_core::Instant;
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// assert!(state.next_machine_event(|| Instant::ZERO, |_, _| unreachable!()).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_machine_event(
        &mut self,
        now: impl Fn() -> Instant,
        mut sockets: impl FnMut(&mut ConnectionState, SocketRequest),
    ) -> Option<ClientEvent> {
        loop {
            match self.machine.poll_event(now())? {
                MachineEvent::Client(event) => return Some(event),
                MachineEvent::Socket(request) => sockets(self, request),
            }
        }
    }

    /// An HTTP socket could not be opened: the machine fails its exchange.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, ResponseCreate, SocketRequest, Transport};
    /// use responses_ws_adapter::responses_ws_core::Instant;
    ///
    /// let config = Config::new("ws://127.0.0.1:9/v1/responses")?.transport(Transport::Http);
    /// let (mut state, _) = ConnectionState::new(config.into_parts());
    /// state.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// let addr = "127.0.0.1:9".to_string();
    /// state.next_machine_event(|| Instant::ZERO, |state, request| {
    ///     let SocketRequest::Dial(socket) = request else { return };
    ///     let error = responses_ws_adapter::ConnectError::Io { addr: addr.clone(), source: refused.kind().into() };
    ///     state.http_dial_failed(socket, &error, Instant::ZERO);
    /// });
    /// // The request failed (or waits for a retry): nothing is in flight on a socket.
    /// assert!(state.http_client().is_some_and(|client| client.sockets().count() == 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn http_dial_failed(&mut self, socket: SocketId, error: &ConnectError, now: Instant) {
        self.machine.http_dial_failed(socket, error.failure(), now);
    }

    /// Bookkeeping on an event going to the application: the attempts' memory (the last
    /// upgrade headers, the last error of an attempt) and the trace.
    ///
    /// ```
    /// use responses_ws_adapter::{ClientEvent, Config, ConnectionState};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// state.observe(&ClientEvent::Connected { headers: Vec::new() });
    /// assert!(state.handshake_headers().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn observe(&mut self, event: &ClientEvent) {
        self.attempts.observe(event);
        self.trace.event(event);
    }

    /// Records `error` as the last attempt's (a socket error the driver saw, which says
    /// more than the core's "connection lost").
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, ConnectError};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// let source = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    /// state.record(ConnectError::Io { addr: "127.0.0.1:9".into(), source });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn record(&mut self, error: ConnectError) {
        self.attempts.record(error);
    }

    /// A dial failed before the upgrade: recorded, and the core's retry budget decides
    /// what follows (`Reconnecting` or `GaveUp`).
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, ConnectError};
    /// use responses_ws_adapter::responses_ws_core::Instant;
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// let source = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// state.dial_failed(ConnectError::Io { addr: "127.0.0.1:9".into(), source }, Instant::ZERO);
    /// assert!(state.machine.next_dial().is_some()); // retried after a backoff
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dial_failed(&mut self, error: ConnectError, now: Instant) {
        self.attempts.dial_failed(&mut self.machine, error, now);
    }

    /// A new streak of connection attempts begins (`connect`, `reconnect`): the last
    /// error is forgotten.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// state.restart_attempts();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restart_attempts(&mut self) {
        self.attempts.restart();
    }

    /// What the next event means while the driver waits for an upgrade (`None`: the
    /// connection is over): `Some` result when the wait is over; session events are set
    /// aside for the application (see [`Attempts::establishing`]).
    ///
    /// ```
    /// use responses_ws_adapter::{ClientEvent, Config, ConnectionState};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// let connected = ClientEvent::Connected { headers: Vec::new() };
    /// assert!(matches!(state.establishing(Some(connected)), Some(Ok(()))));
    /// assert!(matches!(state.establishing(None), Some(Err(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn establishing(&mut self, event: Option<ClientEvent>) -> Option<Result<(), ConnectError>> {
        match self.attempts.establishing(event) {
            Establishing::Done(result) => Some(result),
            Establishing::Keep(event) => {
                self.set_aside.push_back(event);
                None
            }
            Establishing::KeepAndDone(event) => {
                self.set_aside.push_back(event);
                Some(Ok(()))
            }
            _ => None,
        }
    }

    /// Sets an event aside for the application, after those already set aside.
    ///
    /// ```
    /// use responses_ws_adapter::{ClientEvent, Config, ConnectionState};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// state.set_aside(ClientEvent::Connected { headers: Vec::new() });
    /// assert!(state.take_set_aside()?.is_some());
    /// assert!(state.take_set_aside()?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_aside(&mut self, event: ClientEvent) {
        self.set_aside.push_back(event);
    }

    /// The first call of `next_event`: the store's failure, if any, else the oldest event
    /// set aside (`None`: drive the connection for the next one).
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// assert!(state.take_set_aside()?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_set_aside(&mut self) -> Result<Option<ClientEvent>, Error> {
        self.store_result()?;
        Ok(self.set_aside.pop_front())
    }

    /// The event a drive step gave, unless the store failed meanwhile: then the error,
    /// and the event goes back first in line for the next call.
    ///
    /// ```
    /// use responses_ws_adapter::{ClientEvent, Config, ConnectionState};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// let event = ClientEvent::Connected { headers: Vec::new() };
    /// assert!(state.unless_store_failed(Some(event))?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unless_store_failed(
        &mut self,
        event: Option<ClientEvent>,
    ) -> Result<Option<ClientEvent>, Error> {
        if let Some(error) = self.store_error.take() {
            if let Some(event) = event {
                self.set_aside.push_front(event);
            }
            return Err(Error::Store(error));
        }
        Ok(event)
    }

    /// Whether a call that waits (and cannot hand events on) holds so many set aside that
    /// the driver stops reading ([`MAX_SET_ASIDE_EVENTS`]).
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState};
    ///
    /// let (state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// assert!(!state.holds_enough());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn holds_enough(&self) -> bool {
        self.set_aside.len() >= MAX_SET_ASIDE_EVENTS
    }

    /// The set-aside event at `index` taken out, for a tool loop that looks at those it has
    /// not seen yet.
    pub(crate) fn take_set_aside_at(&mut self, index: usize) -> Option<ClientEvent> {
        self.set_aside.remove(index)
    }

    /// Puts an event back among those set aside, at `index`.
    pub(crate) fn put_set_aside_at(&mut self, index: usize, event: ClientEvent) {
        self.set_aside.insert(index, event);
    }
}
