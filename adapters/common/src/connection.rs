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
use std::fmt;
use std::time::Duration;

use responses_ws_core::client::ClientEvent;
use responses_ws_core::http_client::SocketId;
use responses_ws_core::session::{Lane, RequestId};
use responses_ws_core::wire::ResponseCreate;
use responses_ws_core::ws::Header;
use responses_ws_core::Instant;
use responses_ws_store::StoreError;
use responses_ws_tls::TlsConfig;

use crate::{
    Attempts, ConfigParts, ConnectError, ConnectionTrace, Durable, Error, Machine, MachineEvent,
    Resumed, SocketRequest, StoreConfig, MAX_SET_ASIDE_EVENTS,
};

/// The state of one connection that both drivers keep and use alike.
///
/// ```
/// use responses_ws_adapter::{ClientEvent, ConnectError, Config, ConnectionState, Error, Lane};
/// use responses_ws_adapter::SessionEvent;
/// use responses_ws_adapter::{ResponseCreate, SocketRequest, Transport};
/// use responses_ws_adapter::responses_ws_core::Instant;
///
/// let config = Config::<()>::new("ws://127.0.0.1:9/v1/responses")?.transport(Transport::Http);
/// let (mut state, sockets) = ConnectionState::new(config.into_parts());
/// assert_eq!(sockets.connect_timeout, responses_ws_adapter::DEFAULT_CONNECT_TIMEOUT);
/// state.machine.handle_timeout(Instant::ZERO); // what each call of the API does first
/// state.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
/// assert!(state.is_open(false)); // over HTTP, no socket is kept open
/// // Steering is WebSocket mode's alone: the input comes back with the error.
/// let steered = state.machine.steer(&Lane::Default, "faster");
/// assert!(matches!(steered, Err(Error::WebSocketOnly { .. })));
/// // The request asks for a socket of its own; say the driver could not open it.
/// let event = state.next_machine_event(|| Instant::ZERO, |state, request| {
///     let SocketRequest::Dial(socket) = request else { unreachable!("nothing to close") };
///     let source = std::io::ErrorKind::ConnectionRefused.into();
///     let error = ConnectError::Io { addr: "127.0.0.1:9".into(), source };
///     state.http_dial_failed(socket, &error, Instant::ZERO);
/// });
/// // The session retries the request (the refusal is transient) and says so.
/// let Some(ClientEvent::Session(SessionEvent::Retrying { attempt, .. })) = event else {
///     unreachable!("{event:?}")
/// };
/// assert_eq!(attempt, 2);
/// // No store, so no store failure; nothing was set aside.
/// assert!(state.take_set_aside()?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
/// let config = Config::<()>::new("wss://api.openai.com/v1/responses")?;
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

    // --- What the application reads (with `connection_accessors!`) --------------------------

    /// Whether the conversation can send: on WebSocket mode, the driver's socket attached
    /// (`socket_up`) and the connection open (upgraded, not closing); over HTTP + SSE, not
    /// closed.
    pub fn is_open(&self, socket_up: bool) -> bool {
        match self.machine.client() {
            Some(client) => socket_up && client.is_open(),
            None => self.machine.http().is_some(),
        }
    }

    /// The headers of the server's last `101 Switching Protocols` answer.
    pub fn handshake_headers(&self) -> &[Header] {
        self.attempts.headers()
    }

    // --- The calls of the API ---------------------------------------------------------------

    /// Queues a turn on the lane of `request.stream_id` (a turn of the trace begins).
    pub fn create(&mut self, request: ResponseCreate) -> Result<RequestId, Error> {
        let lane = Lane::from_stream_id(request.stream_id.as_deref());
        let id = self.machine.create(request)?;
        self.trace.turn(id, &lane);
        Ok(id)
    }

    /// Queues the first turn of the new named lane `request.stream_id`, from the last
    /// response of lane `from`.
    pub fn fork(&mut self, from: &Lane, request: ResponseCreate) -> Result<RequestId, Error> {
        let lane = Lane::from_stream_id(request.stream_id.as_deref());
        let id = self.machine.fork(from, request)?;
        self.trace.turn(id, &lane);
        Ok(id)
    }

    /// Journals `lane`'s conversation as `conversation` in the configured store (see
    /// [`Durable::open`]); [`Error::Store`] without a store.
    pub fn journal(&mut self, lane: &Lane, conversation: &str) -> Result<(), Error> {
        Durable::required(&mut self.durable)?.open(&mut self.machine, lane, conversation)
    }

    /// Takes conversation `conversation` over from the store and puts it on `lane` (see
    /// [`Durable::resume`]).
    pub fn resume(&mut self, lane: &Lane, conversation: &str) -> Result<Resumed, Error> {
        Durable::required(&mut self.durable)?.resume(&mut self.machine, lane, conversation)
    }

    /// Ends the lease of `conversation`: another worker may take it on at once.
    pub fn release(&mut self, conversation: &str) -> Result<(), Error> {
        Ok(Durable::required(&mut self.durable)?.release(conversation)?)
    }

    // --- The store ------------------------------------------------------------------------

    /// Stores the core's write-ahead records, if the connection has a store, before the
    /// driver writes a byte: `false` (the error kept for the next call, the records for the
    /// next try) when the store failed; then nothing may be written.
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
    pub fn store_result(&mut self) -> Result<(), Error> {
        match self.store_error.take() {
            Some(error) => Err(Error::Store(error)),
            None => Ok(()),
        }
    }

    /// [`persist`](Self::persist), its failure as the error.
    pub fn persist_now(&mut self) -> Result<(), Error> {
        self.persist();
        self.store_result()
    }

    /// Whether every record taken from the core is stored (or there is no store): bytes
    /// may be written.
    pub fn is_clear(&self) -> bool {
        self.durable.as_ref().is_none_or(Durable::is_clear)
    }

    // --- Events ---------------------------------------------------------------------------

    /// The next event for the application from the machine (`None`: it has none now),
    /// carrying out what it asks of the HTTP sockets on the way with `sockets` (dial and
    /// write, close), which gets this state back to tell the machine how it went.
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
    pub fn http_dial_failed(&mut self, socket: SocketId, error: &ConnectError, now: Instant) {
        self.machine.http_dial_failed(socket, error.failure(), now);
    }

    /// Bookkeeping on an event going to the application: the attempts' memory (the last
    /// upgrade headers, the last error of an attempt) and the trace.
    pub fn observe(&mut self, event: &ClientEvent) {
        self.attempts.observe(event);
        self.trace.event(event);
    }

    /// Records `error` as the last attempt's (a socket error the driver saw, which says
    /// more than the core's "connection lost").
    pub fn record(&mut self, error: ConnectError) {
        self.attempts.record(error);
    }

    /// A dial failed before the upgrade: recorded, and the core's retry budget decides
    /// what follows (`Reconnecting` or `GaveUp`).
    pub fn dial_failed(&mut self, error: ConnectError, now: Instant) {
        self.attempts.dial_failed(&mut self.machine, error, now);
    }

    /// A new streak of connection attempts begins (`connect`, `reconnect`): the last
    /// error is forgotten.
    pub fn restart_attempts(&mut self) {
        self.attempts.restart();
    }

    /// What the next event means while the driver waits for an upgrade (`None`: the
    /// connection is over): `Some` result when the wait is over; session events are set
    /// aside for the application (see [`Attempts::establishing`]).
    pub fn establishing(&mut self, event: Option<ClientEvent>) -> Option<Result<(), ConnectError>> {
        self.attempts.establishing(event, &mut self.set_aside)
    }

    /// Sets an event aside for the application, after those already set aside.
    pub fn set_aside(&mut self, event: ClientEvent) {
        self.set_aside.push_back(event);
    }

    /// The first call of `next_event`: the store's failure, if any, else the oldest event
    /// set aside (`None`: drive the connection for the next one).
    pub fn take_set_aside(&mut self) -> Result<Option<ClientEvent>, Error> {
        self.store_result()?;
        Ok(self.set_aside.pop_front())
    }

    /// The event a drive step gave, unless the store failed meanwhile: then the error,
    /// and the event goes back first in line for the next call.
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

impl fmt::Debug for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionState")
            .field("machine", &self.machine)
            .field("set_aside", &self.set_aside.len())
            .field("durable", &self.durable)
            .field("store_error", &self.store_error)
            .finish_non_exhaustive()
    }
}

/// The read-only calls of a driver's `Connection` (`client`, `http_client`, `session`,
/// `transport`, `handshake_headers`), written once for both drivers over the
/// [`ConnectionState`] in their field `$state`.
#[doc(hidden)]
#[macro_export]
macro_rules! connection_accessors {
    ($state:ident) => {
        /// The core's WebSocket client (configuration, bytes written and read so far), while
        /// the conversation runs on WebSocket mode; `None` over HTTP + SSE.
        pub fn client(&self) -> Option<&$crate::responses_ws_core::client::Client> {
            self.$state.machine.client()
        }

        /// The core's HTTP + SSE client (open sockets, configuration), while the
        /// conversation runs over HTTP; `None` on WebSocket mode.
        pub fn http_client(&self) -> Option<&$crate::responses_ws_core::http_client::HttpClient> {
            self.$state.machine.http()
        }

        /// The session, on either transport: ledger, pending tool calls, requests in flight.
        pub fn session(&self) -> &$crate::responses_ws_core::session::Session {
            self.$state.machine.session()
        }

        /// The transport the conversation runs on now: WebSocket mode, or HTTP + SSE (asked
        /// for with [`Config::transport`](responses_ws_adapter::Config::transport), or after
        /// a fallback: [`ClientEvent::UseHttp`](responses_ws_adapter::ClientEvent::UseHttp)).
        pub fn transport(&self) -> $crate::Transport {
            self.$state.machine.transport()
        }

        /// The headers of the server's last `101 Switching Protocols` answer.
        pub fn handshake_headers(&self) -> &[$crate::responses_ws_core::ws::Header] {
            self.$state.handshake_headers()
        }
    };
}
