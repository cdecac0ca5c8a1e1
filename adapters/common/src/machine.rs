//! [`Machine`]: a connection's conversation on whichever transport carries it — the core's
//! WebSocket [`Client`], or its HTTP + SSE [`HttpClient`] — and the moves between them. The
//! core decides every move: the client reports [`ClientEvent::UseHttp`] (a 426, or a spent
//! budget when asked), and a [`TransportChoice`] says when WebSocket mode is tried again.
//! This file only carries them out (the session goes over whole, with its ledger, queued
//! requests and pending tool calls) and gives both drivers, async and blocking, one face:
//! the calls of the API, one event queue, one deadline. Sockets stay the drivers' business.
//!
//! Invariants: exactly one transport holds the session at a time; HTTP sockets are only
//! named while on HTTP (every one is closed when the session leaves); `dial_due` is set
//! only while on WebSocket mode and cleared by the next [`Machine::connect`].

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use responses_ws_core::client::{Client, ClientConfig, ClientEvent, HttpFallback};
use responses_ws_core::http_client::{
    HttpClient, HttpClientConfig, HttpClientEvent, SocketId, Transport, TransportChoice,
};
use responses_ws_core::persist::Record;
use responses_ws_core::retry::Failure;
use responses_ws_core::session::{Lane, LaneTransfer, Refused, RequestId, Session, SessionError};
use responses_ws_core::tool_loop::AnswersToolCalls;
use responses_ws_core::wire::{Input, Item, ResponseCreate, ToolOutput};
use responses_ws_core::ws::{HandshakeError, WsUrl};
use responses_ws_core::Instant;

use crate::{Credentials, Error, Returned};

/// The conversation of one connection and the transport that carries it.
///
/// ```
/// use std::time::Duration;
/// use responses_ws_adapter::{Machine, MachineEvent, SocketRequest};
/// use responses_ws_adapter::responses_ws_core::client::ClientConfig;
/// use responses_ws_adapter::responses_ws_core::http_client::Transport;
/// use responses_ws_adapter::responses_ws_core::ws::WsUrl;
/// use responses_ws_adapter::responses_ws_core::Instant;
/// use responses_ws_adapter::ResponseCreate;
///
/// let url = WsUrl::parse("wss://api.openai.com/v1/responses").unwrap();
/// let config = ClientConfig::new(url).api_key("sk-test");
/// let mut machine = Machine::new(config, Transport::Http, Duration::from_secs(900), Instant::ZERO);
/// machine.create(ResponseCreate { input: Some("Hi".into()), ..Default::default() })?;
/// // Over HTTP a request opens a socket of its own.
/// let Some(MachineEvent::Socket(SocketRequest::Dial(socket))) = machine.poll_event(Instant::ZERO) else { panic!() };
/// let request = machine.http_mut().unwrap().poll_transmit(socket).unwrap();
/// assert!(request.starts_with(b"POST /v1/responses HTTP/1.1\r\nHost: api.openai.com\r\n"));
/// // Steering is WebSocket mode's alone: the input comes back with the error.
/// assert!(machine.steer(&Default::default(), "faster").is_err());
/// # Ok::<(), responses_ws_adapter::Error>(())
/// ```
pub struct Machine {
    state: State,
    ws_config: ClientConfig,
    http_config: HttpClientConfig,
    /// When WebSocket mode is tried again after a fallback; `None` when the caller asked for
    /// HTTP (it stays).
    choice: Option<TransportChoice>,
    /// WebSocket mode is due again since then: the driver dials at once.
    dial_due: Option<Instant>,
    /// Socket requests taken from the HTTP client ahead of its events.
    sockets: VecDeque<SocketRequest>,
    /// Events for the application: those of a move between transports, and those taken
    /// from the HTTP client with its socket requests.
    queued: VecDeque<ClientEvent>,
    /// Where fresh credentials come from after a 401, on either transport.
    credentials: Option<Credentials>,
}

/// Which machine holds the session.
// One per connection, moved only between transports: boxing would cost an indirection on
// every call for nothing.
#[allow(clippy::large_enum_variant)]
enum State {
    WebSocket(Client),
    Http(HttpClient),
    /// Closed by the application while on HTTP (WebSocket mode closes inside its client).
    Closed(Session),
}

/// What a [`Machine`] has for its driver.
///
/// Not `non_exhaustive`: a driver must handle every kind.
#[derive(Debug)]
// Nearly every event is a client event: boxing it would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum MachineEvent {
    /// For the application (a [`ClientEvent::UseHttp`] among them: drop the WebSocket socket,
    /// the conversation goes on over HTTP).
    Client(ClientEvent),
    /// An HTTP socket to open or close.
    Socket(SocketRequest),
}

/// An HTTP socket a [`Machine`] asks its driver to open or close.
///
/// Not `non_exhaustive`: a driver must carry out every kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketRequest {
    /// Open an HTTP socket under this id (TCP, and TLS for a `wss://` URL) to the URL's host;
    /// then write what [`HttpClient::poll_transmit`] gives for it, or report
    /// [`Machine::http_dial_failed`].
    Dial(SocketId),
    /// Close this HTTP socket.
    Close(SocketId),
}

impl Machine {
    /// The machine of a connection made with these settings, which starts on WebSocket mode
    /// unless `transport` is HTTP, and moves to HTTP as `fallback` says. Durable
    /// conversations run on either transport: their records come from
    /// [`poll_record`](Self::poll_record) whichever carries the session.
    ///
    /// ```
    /// use std::time::Duration;
    /// use responses_ws_adapter::Machine;
    /// use responses_ws_core::client::{ClientConfig, HttpFallback};
    /// use responses_ws_core::http_client::Transport;
    /// use responses_ws_core::ws::WsUrl;
    ///
    /// let config = ClientConfig::new(WsUrl::parse("ws://127.0.0.1:9/v1/responses")?);
    /// let fifteen = Duration::from_secs(900);
    /// let fallback = HttpFallback::OnUpgradeRequired;
    /// let machine = Machine::for_connection(config.clone(), Transport::WebSocket, fallback, fifteen);
    /// assert_eq!(machine.transport(), Transport::WebSocket);
    /// let machine = Machine::for_connection(config, Transport::Http, fallback, fifteen);
    /// assert_eq!(machine.transport(), Transport::Http);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_connection(
        mut config: ClientConfig,
        transport: Transport,
        fallback: HttpFallback,
        reprobe_after: Duration,
    ) -> Machine {
        config.http_fallback = fallback;
        Machine::new(config, transport, reprobe_after, Instant::ZERO)
    }

    /// A conversation for `config` on `transport`. On WebSocket mode, the driver dials when
    /// [`next_dial`](Self::next_dial) says so; after a fallback
    /// (`config.http_fallback`) WebSocket mode is tried again after `reprobe_after`. On
    /// HTTP, asked for by the caller, it stays.
    pub fn new(
        config: ClientConfig,
        transport: Transport,
        reprobe_after: Duration,
        now: Instant,
    ) -> Machine {
        let http_config = http_config(&config);
        let session = Session::new(config.session.clone());
        let (state, choice) = match transport {
            Transport::Http => (
                State::Http(HttpClient::from_session(http_config.clone(), session, now)),
                None,
            ),
            _ => (
                State::WebSocket(Client::from_session(config.clone(), session)),
                Some(TransportChoice::new(reprobe_after)),
            ),
        };
        Machine {
            state,
            ws_config: config,
            http_config,
            choice,
            dial_due: None,
            sockets: VecDeque::new(),
            queued: VecDeque::new(),
            credentials: None,
        }
    }

    /// Fetches fresh credentials from `source` when a 401 asks for them: WebSocket mode's
    /// [`ClientEvent::Reconnecting`] with `refresh_credentials` (before the next dial), and
    /// HTTP's [`HttpClientEvent::RefreshCredentials`] (before the refused request goes out
    /// again). The client must be configured with
    /// [`refreshable_credentials`](ClientConfig::refreshable_credentials).
    pub fn with_credentials(mut self, source: Option<Credentials>) -> Machine {
        self.credentials = source;
        self
    }

    /// The transport that carries the session now (HTTP also once closed there).
    pub fn transport(&self) -> Transport {
        match self.state {
            State::WebSocket(_) => Transport::WebSocket,
            State::Http(_) | State::Closed(_) => Transport::Http,
        }
    }

    /// The session: ledger, pending tool calls, requests in flight.
    pub fn session(&self) -> &Session {
        match &self.state {
            State::WebSocket(client) => client.session(),
            State::Http(client) => client.session(),
            State::Closed(session) => session,
        }
    }

    /// The WebSocket client, while on WebSocket mode.
    pub fn client(&self) -> Option<&Client> {
        match &self.state {
            State::WebSocket(client) => Some(client),
            _ => None,
        }
    }

    /// The WebSocket client, while on WebSocket mode.
    pub fn client_mut(&mut self) -> Option<&mut Client> {
        match &mut self.state {
            State::WebSocket(client) => Some(client),
            _ => None,
        }
    }

    /// The HTTP client, while on HTTP.
    pub fn http(&self) -> Option<&HttpClient> {
        match &self.state {
            State::Http(client) => Some(client),
            _ => None,
        }
    }

    /// The HTTP client, while on HTTP.
    pub fn http_mut(&mut self) -> Option<&mut HttpClient> {
        match &mut self.state {
            State::Http(client) => Some(client),
            _ => None,
        }
    }

    // --- The API ------------------------------------------------------------------------

    /// See [`Client::create`] and [`HttpClient::create`] (which refuses `generate`).
    pub fn create(&mut self, request: ResponseCreate) -> Result<RequestId, Error> {
        match &mut self.state {
            State::WebSocket(client) => Ok(client.create(request)?),
            State::Http(client) => client.create(request).map_err(handed_back_request),
            State::Closed(session) => session.create(request).map_err(handed_back_request),
        }
    }

    /// See [`Client::fork`].
    pub fn fork(&mut self, from: &Lane, request: ResponseCreate) -> Result<RequestId, Error> {
        match &mut self.state {
            State::WebSocket(client) => Ok(client.fork(from, request)?),
            State::Http(client) => client.fork(from, request).map_err(handed_back_request),
            State::Closed(session) => session.fork(from, request).map_err(handed_back_request),
        }
    }

    /// See [`Client::warm_up`]: WebSocket mode only.
    pub fn warm_up(&mut self, request: ResponseCreate) -> Result<RequestId, Error> {
        match &mut self.state {
            State::WebSocket(client) => Ok(client.warm_up(request)?),
            State::Http(client) => client.warm_up(request).map_err(handed_back_request),
            State::Closed(_) => Err(handed_back_request(Refused::new(
                SessionError::WebSocketOnly("generate"),
                request,
            ))),
        }
    }

    /// See [`Client::submit_tool_output`].
    pub fn submit_tool_output(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), SessionError> {
        match &mut self.state {
            State::WebSocket(client) => client.submit_tool_output(lane, call_id, output),
            State::Http(client) => client.submit_tool_output(lane, call_id, output),
            State::Closed(session) => session.submit_tool_output(lane, call_id, output),
        }
    }

    /// See [`Client::submit_approval`].
    pub fn submit_approval(
        &mut self,
        lane: &Lane,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), SessionError> {
        match &mut self.state {
            State::WebSocket(client) => client.submit_approval(lane, request_id, approve, reason),
            State::Http(client) => client.submit_approval(lane, request_id, approve, reason),
            State::Closed(session) => session.submit_approval(lane, request_id, approve, reason),
        }
    }

    /// See [`Client::steer`]: WebSocket mode only; over HTTP the input comes back in
    /// [`Error::WebSocketOnly`].
    pub fn steer(&mut self, lane: &Lane, input: impl Into<Input>) -> Result<(), Error> {
        let refused = match &mut self.state {
            State::WebSocket(client) => client.steer(lane, input),
            State::Http(client) => client.steer(lane, input),
            State::Closed(_) => Err(Refused::new(
                SessionError::WebSocketOnly("response.steer"),
                input.into(),
            )),
        };
        refused.map_err(|refused| handed_back(refused, Returned::Input))
    }

    /// See [`Client::inject`]: WebSocket mode only; over HTTP the items come back in
    /// [`Error::WebSocketOnly`].
    pub fn inject(&mut self, lane: &Lane, input: Vec<Item>) -> Result<(), Error> {
        let refused = match &mut self.state {
            State::WebSocket(client) => client.inject(lane, input),
            State::Http(client) => client.inject(lane, input),
            State::Closed(_) => Err(Refused::new(
                SessionError::WebSocketOnly("response.inject"),
                input,
            )),
        };
        refused.map_err(|refused| handed_back(refused, Returned::Items))
    }

    /// See [`Client::journal`] and [`HttpClient::journal`].
    pub fn journal(&mut self, lane: &Lane, conversation: &str) -> Result<(), SessionError> {
        match &mut self.state {
            State::WebSocket(client) => client.journal(lane, conversation),
            State::Http(client) => client.journal(lane, conversation),
            State::Closed(session) => session.journal(lane, conversation),
        }
    }

    /// The next write-ahead record, whichever transport carries the session (see
    /// [`Client::poll_record`], [`HttpClient::poll_record`]): store it before writing any
    /// byte of either transport.
    pub fn poll_record(&mut self) -> Option<Record> {
        match &mut self.state {
            State::WebSocket(client) => client.poll_record(),
            State::Http(client) => client.poll_record(),
            State::Closed(session) => session.poll_record(),
        }
    }

    /// See [`Client::import_lane`] and [`HttpClient::import_lane`].
    pub fn import_lane(
        &mut self,
        lane: &Lane,
        transfer: LaneTransfer,
    ) -> Result<(), Refused<LaneTransfer>> {
        match &mut self.state {
            State::WebSocket(client) => client.import_lane(lane, transfer),
            State::Http(client) => client.import_lane(lane, transfer),
            State::Closed(session) => session.import_lane(lane, transfer),
        }
    }

    /// Whether another request fits (WebSocket mode's outbound queue; HTTP writes each
    /// request on its own socket).
    pub fn has_room(&self) -> bool {
        self.client().is_none_or(Client::has_room)
    }

    /// Replaces the `Authorization` header, for both transports.
    pub fn set_api_key(&mut self, key: &str) {
        self.ws_config.set_api_key(key);
        self.http_config = http_config(&self.ws_config);
        match &mut self.state {
            State::WebSocket(client) => client.set_api_key(key),
            State::Http(client) => client.set_api_key(key),
            State::Closed(_) => {}
        }
    }

    /// A fresh API key from the credentials source, if it has one.
    fn fresh_key(&self) -> Option<String> {
        self.credentials.as_ref().and_then(Credentials::fetch)
    }

    /// The HTTP client asked for fresh credentials after a 401: from the source, for both
    /// transports; the held requests then go out.
    fn refresh_http_credentials(&mut self) {
        let key = self.fresh_key();
        if let Some(key) = &key {
            self.ws_config.set_api_key(key);
            self.http_config = http_config(&self.ws_config);
        }
        if let State::Http(client) = &mut self.state {
            client.credentials_refreshed(key.as_deref());
        }
    }

    // --- Driving ------------------------------------------------------------------------

    /// The endpoint: WebSocket mode's URL, whose host, port and scheme (TLS for `wss://`)
    /// HTTP sockets are opened to as well.
    pub fn url(&self) -> &WsUrl {
        &self.ws_config.url
    }

    /// Starts a WebSocket connection (see [`Client::connect`]); nothing to do over HTTP.
    pub fn connect(&mut self, seed: [u8; 32], now: Instant) -> Result<(), HandshakeError> {
        self.dial_due = None;
        match &mut self.state {
            State::WebSocket(client) => client.connect(seed, now),
            _ => Ok(()),
        }
    }

    /// When the driver should dial a WebSocket connection (see [`Client::next_dial`]): also
    /// at once after the session came back from HTTP.
    pub fn next_dial(&self) -> Option<Instant> {
        self.dial_due.or(self.client()?.next_dial())
    }

    /// See [`Client::dial_failed`] (WebSocket mode).
    pub fn dial_failed(&mut self, cause: Failure, now: Instant) {
        self.dial_due = None;
        if let State::WebSocket(client) = &mut self.state {
            client.dial_failed(cause, now);
        }
    }

    /// See [`HttpClient::dial_failed`].
    pub fn http_dial_failed(&mut self, socket: SocketId, cause: Failure, now: Instant) {
        if let State::Http(client) = &mut self.state {
            client.dial_failed(socket, cause, now);
        }
    }

    /// WebSocket mode's read buffer (see [`Client::input_buffer`]); empty over HTTP, whose
    /// sockets feed the [`HttpClient`] by their ids.
    pub fn input_buffer(&mut self) -> &mut [u8] {
        match &mut self.state {
            State::WebSocket(client) => client.input_buffer(),
            _ => &mut [],
        }
    }

    /// See [`Client::commit_input`] (WebSocket mode).
    pub fn commit_input(&mut self, n: usize, now: Instant) {
        if let State::WebSocket(client) = &mut self.state {
            client.commit_input(n, now);
        }
    }

    /// See [`Client::handle_eof`] (WebSocket mode).
    pub fn handle_eof(&mut self, now: Instant) {
        if let State::WebSocket(client) = &mut self.state {
            client.handle_eof(now);
        }
    }

    /// See [`Client::poll_transmit`] (WebSocket mode).
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.client_mut()?.poll_transmit()
    }

    /// See [`Client::is_open`]: the WebSocket connection is open.
    pub fn is_open(&self) -> bool {
        self.client().is_some_and(Client::is_open)
    }

    /// See [`Client::is_finished`]: the WebSocket socket is to be closed (always, once the
    /// session left WebSocket mode).
    pub fn is_finished(&self) -> bool {
        self.client().is_none_or(Client::is_finished)
    }

    /// Closes the conversation's transport: WebSocket mode's close handshake; over HTTP,
    /// every socket (requests in flight end as interrupted).
    pub fn close(&mut self, now: Instant) {
        match &mut self.state {
            State::WebSocket(client) => client.close(now),
            State::Http(_) => {
                let State::Http(client) = self.take_state() else {
                    unreachable!("matched just before")
                };
                let (session, events) = client.into_session(now);
                self.queue_http(events);
                self.state = State::Closed(session);
            }
            State::Closed(_) => {}
        }
    }

    /// Opens HTTP again after [`close`](Self::close) (queued requests go out).
    pub fn reopen(&mut self, now: Instant) {
        if let State::Closed(_) = self.state {
            let State::Closed(session) = self.take_state() else {
                unreachable!("matched just before")
            };
            let client = HttpClient::from_session(self.http_config.clone(), session, now);
            self.state = State::Http(client);
        }
    }

    /// Whether the session is closed on HTTP and every event is taken.
    pub fn is_over(&self) -> bool {
        matches!(self.state, State::Closed(_)) && self.queued.is_empty() && self.sockets.is_empty()
    }

    /// Time has reached `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            State::WebSocket(client) => client.handle_timeout(now),
            State::Http(client) => client.handle_timeout(now),
            State::Closed(_) => {}
        }
        self.reprobe(now);
    }

    /// The next deadline: the transport's, and the re-probe of WebSocket mode.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::WebSocket(client) => client.poll_timeout(),
            State::Http(client) => {
                // A re-probe held back by requests in flight waits for them, not for time.
                let idle = client.session().in_flight() == 0;
                let reprobe = self.choice.as_ref().and_then(TransportChoice::poll_timeout);
                let reprobe = reprobe.filter(|_| idle);
                client.poll_timeout().into_iter().chain(reprobe).min()
            }
            State::Closed(_) => None,
        }
    }

    /// The next event: a move between transports is carried out here (the session handed
    /// over whole) before its events are given.
    ///
    /// Socket requests come before the events they were queued with (they change nothing
    /// the application sees).
    pub fn poll_event(&mut self, now: Instant) -> Option<MachineEvent> {
        if let Some(request) = self.poll_socket() {
            return Some(MachineEvent::Socket(request));
        }
        if let Some(event) = self.queued.pop_front() {
            return Some(MachineEvent::Client(event));
        }
        let event = match &mut self.state {
            State::WebSocket(client) => client.poll_event()?,
            State::Http(_) => {
                self.reprobe(now);
                if let Some(request) = self.poll_socket() {
                    return Some(MachineEvent::Socket(request));
                }
                return self.queued.pop_front().map(MachineEvent::Client);
            }
            State::Closed(session) => ClientEvent::Session(session.poll_event()?),
        };
        match &event {
            ClientEvent::UseHttp { .. } => self.fall_back(now),
            ClientEvent::Reconnecting {
                refresh_credentials: true,
                ..
            } => {
                if let Some(key) = self.fresh_key() {
                    self.set_api_key(&key);
                }
            }
            _ => {}
        }
        Some(MachineEvent::Client(event))
    }

    /// The next socket request alone, the application's events kept in order for
    /// [`poll_event`](Self::poll_event): for a driver that opens and writes sockets while
    /// nobody takes events (a flush).
    pub fn poll_socket(&mut self) -> Option<SocketRequest> {
        while let State::Http(client) = &mut self.state {
            let Some(event) = client.poll_event() else {
                break;
            };
            if let HttpClientEvent::RefreshCredentials = event {
                self.refresh_http_credentials();
                continue;
            }
            sort(event, &mut self.sockets, &mut self.queued);
        }
        self.sockets.pop_front()
    }

    /// The WebSocket client gave up WebSocket mode: the session goes to HTTP.
    fn fall_back(&mut self, now: Instant) {
        let State::WebSocket(client) = self.take_state() else {
            return;
        };
        let (session, events) = client.into_session(now);
        self.queued.extend(events);
        if let Some(choice) = &mut self.choice {
            choice.fell_back(now);
        }
        let client = HttpClient::from_session(self.http_config.clone(), session, now);
        self.state = State::Http(client);
    }

    /// On HTTP after a fallback: back to WebSocket mode once the choice says so (the
    /// interval is over and nothing is in flight); the driver dials at once.
    fn reprobe(&mut self, now: Instant) {
        let State::Http(client) = &self.state else {
            return;
        };
        let in_flight = client.session().in_flight();
        let Some(choice) = &mut self.choice else {
            return;
        };
        if choice.switch(now, in_flight) != Some(Transport::WebSocket) {
            return;
        }
        let State::Http(client) = self.take_state() else {
            unreachable!("matched just before")
        };
        let (session, events) = client.into_session(now);
        self.queue_http(events);
        self.state = State::WebSocket(Client::from_session(self.ws_config.clone(), session));
        self.dial_due = Some(now);
    }

    /// Queues what an HTTP client left behind.
    fn queue_http(&mut self, events: Vec<HttpClientEvent>) {
        for event in events {
            sort(event, &mut self.sockets, &mut self.queued);
        }
    }

    /// Takes the state out for a move (an empty session stands in until the new one is set).
    fn take_state(&mut self) -> State {
        let empty = Session::new(self.ws_config.session.clone());
        std::mem::replace(&mut self.state, State::Closed(empty))
    }
}

impl AnswersToolCalls for Machine {
    fn handle_timeout(&mut self, now: Instant) {
        Machine::handle_timeout(self, now)
    }
    fn answer_tool_call(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: ToolOutput,
    ) -> Result<(), SessionError> {
        self.submit_tool_output(lane, call_id, output)
    }
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("Machine");
        match &self.state {
            State::WebSocket(client) => debug.field("client", client),
            State::Http(client) => debug.field("http", client),
            State::Closed(session) => debug.field("closed", session),
        };
        debug
            .field("choice", &self.choice)
            .field("dial_due", &self.dial_due)
            .field("queued", &self.queued.len())
            .finish_non_exhaustive()
    }
}

/// The HTTP + SSE configuration of a WebSocket one: the same host, port and path
/// (`wss://` → `https://`), headers and session settings.
pub fn http_config(config: &ClientConfig) -> HttpClientConfig {
    HttpClientConfig::for_client(config)
}

/// Puts an HTTP client's event where it belongs: socket requests for the driver, session
/// events for the application.
fn sort(
    event: HttpClientEvent,
    sockets: &mut VecDeque<SocketRequest>,
    queued: &mut VecDeque<ClientEvent>,
) {
    match event {
        HttpClientEvent::Dial { socket } => sockets.push_back(SocketRequest::Dial(socket)),
        HttpClientEvent::Close { socket } => sockets.push_back(SocketRequest::Close(socket)),
        HttpClientEvent::Session(event) => queued.push_back(ClientEvent::Session(event)),
        // A later kind asks nothing of a driver (the core's enum may grow).
        _ => {}
    }
}

/// A refused request, its request handed back when HTTP cannot carry it.
fn handed_back_request(refused: Refused<ResponseCreate>) -> Error {
    handed_back(refused, |request| Returned::Request(Box::new(request)))
}

/// A refusal as the adapter's error: [`Error::WebSocketOnly`] with what the call carried,
/// else the session's error.
fn handed_back<T>(refused: Refused<T>, returned: impl FnOnce(T) -> Returned) -> Error {
    let (error, input) = refused.into_parts();
    match error {
        SessionError::WebSocketOnly(_) => Error::WebSocketOnly {
            error,
            returned: returned(input),
        },
        error => Error::Session(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use responses_ws_core::retry::RetryPolicy;
    use responses_ws_core::session::SessionEvent;
    use responses_ws_core::wire::ResponseCreate;

    const INTERVAL: Duration = Duration::from_secs(60);

    /// A machine on WebSocket mode whose upgrade was just refused with 426.
    fn refused_with_426() -> (Machine, Vec<MachineEvent>) {
        let url = WsUrl::parse("ws://127.0.0.1:9/v1/responses").unwrap();
        let mut config = ClientConfig::new(url);
        config.http_fallback = responses_ws_core::client::HttpFallback::OnUpgradeRequired;
        config.session.retry = RetryPolicy::never();
        let mut machine = Machine::new(config, Transport::WebSocket, INTERVAL, Instant::ZERO);
        machine.connect([7; 32], Instant::ZERO).unwrap();
        while machine.poll_transmit().is_some() {}
        let answer = b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n";
        machine
            .client_mut()
            .unwrap()
            .handle_input(answer, Instant::ZERO);
        let events = std::iter::from_fn(|| machine.poll_event(Instant::ZERO)).collect();
        (machine, events)
    }

    fn request() -> ResponseCreate {
        ResponseCreate {
            input: Some("Hi".into()),
            ..ResponseCreate::default()
        }
    }

    #[test]
    fn a_426_moves_the_session_to_http_and_websocket_mode_comes_back_only_when_idle() {
        let (mut machine, events) = refused_with_426();
        let moved = events.iter().find_map(|event| match event {
            MachineEvent::Client(ClientEvent::UseHttp { cause }) => cause.status(),
            _ => None,
        });
        assert_eq!(moved, Some(426), "{events:?}");
        assert_eq!(machine.transport(), Transport::Http);
        assert!(
            machine.is_finished(),
            "the WebSocket socket is to be closed"
        );
        assert_eq!(machine.next_dial(), None);

        machine.create(request()).unwrap();
        let Some(MachineEvent::Socket(SocketRequest::Dial(socket))) =
            machine.poll_event(Instant::ZERO)
        else {
            panic!("a request over HTTP opens a socket");
        };
        // The interval is over but a request is in flight: the move waits, and the re-probe
        // is no deadline meanwhile (nothing to wake up for).
        let later = Instant::ZERO + INTERVAL;
        machine.handle_timeout(later);
        assert_eq!(machine.transport(), Transport::Http);
        assert!(machine.poll_timeout().is_none_or(|at| at > later));

        // The request ends (its socket could not be opened): nothing in flight, so the
        // session goes back and the driver is to dial at once.
        machine.http_dial_failed(socket, Failure::ConnectTimeout, later);
        let events: Vec<MachineEvent> = std::iter::from_fn(|| machine.poll_event(later)).collect();
        assert!(
            events.iter().any(|event| matches!(
                event,
                MachineEvent::Client(ClientEvent::Session(SessionEvent::Failed { .. }))
            )),
            "{events:?}"
        );
        assert_eq!(machine.transport(), Transport::WebSocket);
        assert_eq!(machine.next_dial(), Some(later));
        machine.connect([8; 32], later).unwrap();
        assert_eq!(machine.next_dial(), None);
    }

    #[test]
    fn over_http_what_only_websocket_mode_has_is_handed_back() {
        let (mut machine, _) = refused_with_426();
        let warm = ResponseCreate {
            generate: Some(false),
            ..request()
        };
        let Err(Error::WebSocketOnly {
            returned: Returned::Request(returned),
            ..
        }) = machine.warm_up(warm.clone())
        else {
            panic!("a warm-up over HTTP is refused");
        };
        assert_eq!(*returned, warm);
        let Err(Error::WebSocketOnly {
            returned: Returned::Items(items),
            ..
        }) = machine.inject(&Lane::Default, Vec::new())
        else {
            panic!("inject over HTTP is refused");
        };
        assert!(items.is_empty());
        // Closed by the application, requests still queue for when it opens again.
        machine.close(Instant::ZERO);
        machine.create(request()).unwrap();
        assert!(machine.steer(&Lane::Default, "more").is_err());
        machine.reopen(Instant::ZERO);
        let dialed = std::iter::from_fn(|| machine.poll_event(Instant::ZERO))
            .any(|event| matches!(event, MachineEvent::Socket(SocketRequest::Dial(_))));
        assert!(dialed, "the queued request goes out");
    }
}
