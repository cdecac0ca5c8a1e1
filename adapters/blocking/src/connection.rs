//! [`Connection`]: the blocking driving loop around the core's [`Client`](responses_ws_core::client::Client) — read the socket
//! into the core, hand out the core's events, write what it queues, honour its one deadline
//! (as socket timeouts), and dial again when the core's retry budget says so
//! (`Client::next_dial`). Every protocol decision is the core's; this file only moves bytes
//! and time.

use std::io::{self, Read, Write};
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use responses_ws_core::client::ClientEvent;
use responses_ws_core::http_client::Transport as TransportKind;
use responses_ws_core::session::{Lane, RequestId};
use responses_ws_core::wire::{Input, Item, ResponseCreate, ToolOutput};
use responses_ws_core::Instant;

use crate::http::{Dialing, HttpSockets};
use crate::outbound::Outbound;
use crate::random;
use crate::transport::{is_timeout, Transport};
use crate::Config;
use crate::{ConnectError, Error};
use responses_ws_adapter::ConnectionState;

/// One Responses WebSocket connection (and the ones that replace it), driven by the calling
/// thread.
///
/// Calls that send (`create`, `submit_tool_output`, `steer` …) first tell the core the time
/// (the session decides connection rotation on the time it last saw), then write before they
/// return, blocking while the socket takes no more. The socket is read only inside
/// [`next_event`](Self::next_event) (and the loops built on it), and only when the core has no
/// event left to give: a thread that stops asking for events stops reading, and TCP tells the
/// server to slow down. Likewise the core's timers (keepalive pings, pong and close
/// deadlines) run only while a call is in progress: an application that leaves a connection
/// idle without reading may find it dropped, which the retry budget then repairs.
///
/// ```no_run
/// use responses_ws_blocking::{ClientEvent, Config, Connection, ResponseCreate, SessionEvent};
///
/// let config = Config::new("wss://api.openai.com/v1/responses")?
///     .api_key(&std::env::var("OPENAI_API_KEY")?);
/// let mut conn = Connection::connect(config)?;
/// conn.create(ResponseCreate {
///     model: Some("gpt-5.5".into()),
///     input: Some("Say hello.".into()),
///     ..Default::default()
/// })?;
/// for event in conn.events() {
///     match event? {
///         ClientEvent::Session(SessionEvent::Completed { response, .. }) => {
///             println!("{}", response.all_output_text());
///             break;
///         }
///         ClientEvent::Session(SessionEvent::Failed { error, .. }) => return Err(error.into()),
///         _ => {}
///     }
/// }
/// conn.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Connection {
    /// The session, the attempts' memory, the store, the trace, the events set aside.
    pub(crate) state: ConnectionState,
    /// The WebSocket socket, while there is one.
    io: Option<Transport>,
    /// The HTTP sockets, while on HTTP.
    http: HttpSockets,
    /// The socket reached end of file: nothing more to read from it.
    read_closed: bool,
    outbound: Outbound,
    /// How sockets are opened (TLS, the connect timeout).
    dialing: Dialing,
    /// The socket error that ended the last transport, with its `host:port`.
    io_error: Option<(String, io::Error)>,
    /// The origin of the core's clock.
    origin: StdInstant,
}

impl Connection {
    /// Opens a connection: resolves the host, connects over TCP (TCP_NODELAY; TLS for
    /// `wss://`) and completes the WebSocket upgrade, all within the connect timeout,
    /// retried within the retry budget ([`Config::retry`](responses_ws_adapter::Config::retry)).
    /// When the budget is spent, or a failure is final (a 401 without a
    /// [credentials source](responses_ws_adapter::Config::credentials)), fails with
    /// [`ConnectError::GaveUp`]: the attempts and the last attempt's error (a refused upgrade
    /// keeps the server's status, headers and body). The headers of the `101` answer are in
    /// [`handshake_headers`](Self::handshake_headers).
    ///
    /// With [`Config::transport`](responses_ws_adapter::Config::transport) set to HTTP +
    /// SSE nothing is opened ahead: each request opens its own socket.
    pub fn connect(config: Config) -> Result<Connection, ConnectError> {
        let (state, sockets) = ConnectionState::new(config.into_parts());
        let tls = match state.machine.url().is_secure() {
            true => Some(sockets.tls.client_config().map_err(ConnectError::Tls)?),
            false => None,
        };
        let mut conn = Connection {
            state,
            io: None,
            http: HttpSockets::default(),
            read_closed: false,
            outbound: Outbound::default(),
            dialing: Dialing {
                tls,
                timeout: sockets.connect_timeout,
            },
            io_error: None,
            origin: StdInstant::now(),
        };
        conn.reconnect()?;
        Ok(conn)
    }

    /// Opens a new connection now, as [`connect`](Self::connect) does (with a fresh retry
    /// budget), and drops the current one, if any, once the new socket is open (its started
    /// requests fail as interrupted). The conversations carry on: each lane's next request
    /// goes out with its full context where the server's cache is gone, and requests that had
    /// not started go out again. For use after the events ended (the application closed, or
    /// retrying gave up).
    pub fn reconnect(&mut self) -> Result<(), ConnectError> {
        if self.state.machine.transport() == TransportKind::Http {
            self.state.machine.reopen(self.now());
            return Ok(());
        }
        self.state.restart_attempts();
        self.dial(self.now());
        self.establish()
    }

    /// Queues a turn on the lane of `request.stream_id` (the default lane when `None`) and
    /// writes it. `request.input` is the new input only: the session adds
    /// `previous_response_id` or the full context. Blocks first, writing, while the bytes
    /// waiting to be written are over `ws.max_outbound_queue`.
    pub fn create(&mut self, request: ResponseCreate) -> Result<RequestId, Error> {
        self.send(true, |state| state.create(request))
    }

    /// Starts the new named lane `request.stream_id` from the last response of lane `from`.
    pub fn fork(&mut self, from: &Lane, request: ResponseCreate) -> Result<RequestId, Error> {
        self.send(true, |state| state.fork(from, request))
    }

    /// Answers the tool call `call_id` of the lane's last response; once every call has its
    /// answer, the continuation goes out.
    pub fn submit_tool_output(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), Error> {
        self.send(false, |state| {
            Ok(state.machine.submit_tool_output(lane, call_id, output)?)
        })
    }

    /// Approves or refuses the MCP approval request `request_id` of the lane's last response.
    pub fn submit_approval(
        &mut self,
        lane: &Lane,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), Error> {
        self.send(false, |state| {
            Ok((state.machine).submit_approval(lane, request_id, approve, reason)?)
        })
    }

    /// Steers the lane's running response with more user input (`response.steer`).
    /// WebSocket mode only: over HTTP + SSE it fails with [`Error::WebSocketOnly`], the
    /// input handed back.
    pub fn steer(&mut self, lane: &Lane, input: impl Into<Input>) -> Result<(), Error> {
        self.send(true, |state| state.machine.steer(lane, input))
    }

    /// Commits `input` (outputs of client-owned tool calls) into the lane's running response
    /// (`response.inject`, multi-agent beta: the upgrade needs the header
    /// `OpenAI-Beta: responses_multi_agent=v1`). The verdict arrives as
    /// `SessionEvent::InjectAccepted` or `SessionEvent::InjectFailed`; see
    /// [`Session::inject`](responses_ws_core::session::Session::inject). WebSocket mode
    /// only, as [`steer`](Self::steer).
    pub fn inject(&mut self, lane: &Lane, input: Vec<Item>) -> Result<(), Error> {
        self.send(false, |state| state.machine.inject(lane, input))
    }

    /// A call of the API that makes the session send: the time first (see
    /// [`ConnectionState::catch_up`]), room in the outbound queue if `needs_room` (the calls
    /// that add a request), then `call`, and what it queued written before it returns (the
    /// store's failure, if any, is its error).
    pub(crate) fn send<T>(
        &mut self,
        needs_room: bool,
        call: impl FnOnce(&mut ConnectionState) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.catch_up();
        if needs_room {
            self.room()?;
        }
        let value = call(&mut self.state)?;
        self.flush();
        self.state.store_result()?;
        Ok(value)
    }

    /// Tells the core what time it is before an API call.
    pub(crate) fn catch_up(&mut self) {
        let now = self.now();
        self.state.machine.handle_timeout(now);
    }

    /// The next event, reading the socket only when the core has none left. `None` once the
    /// connection is over (closed, or retrying gave up) and every event was taken.
    ///
    /// Retrying is reported here: a failed connection is [`ClientEvent::Disconnected`], then
    /// [`ClientEvent::Reconnecting`] with the delay the retry budget chose; the next call
    /// sleeps it, dials and goes on (its first event is the new [`ClientEvent::Connected`]).
    /// When the budget is spent the last event is [`ClientEvent::GaveUp`].
    ///
    /// Over HTTP + SSE it is also `None` once no socket is open and no deadline is set:
    /// nothing can arrive (an idle WebSocket at least has its keepalive). The next request
    /// makes events come again.
    pub fn next_event(&mut self) -> Result<Option<ClientEvent>, Error> {
        match self.state.take_set_aside()? {
            Some(event) => Ok(Some(event)),
            None => self.next_from_core(),
        }
    }

    /// Starts the close handshake (code 1000) and waits until the connection is over: the
    /// server's answer, end of file, or the close timeout. Nothing is reconnected. Events that
    /// arrived meanwhile stay available to [`next_event`](Self::next_event).
    pub fn close(&mut self) -> Result<(), Error> {
        if self.state.machine.transport() == TransportKind::Http {
            // Every socket closes; requests in flight end as interrupted.
            self.state.machine.close(self.now());
            while let Some(event) = self.pull_event() {
                self.state.set_aside(event);
            }
            return Ok(());
        }
        let open = self.state.machine.is_open();
        self.state.machine.close(self.now());
        if open {
            self.flush();
        } else {
            // Still upgrading (or already over): there is no handshake to wait for.
            self.lose(io::ErrorKind::ConnectionAborted.into());
        }
        while self.io.is_some() {
            match self.pull_event() {
                Some(event) => self.state.set_aside(event),
                None => self.read_once(),
            }
        }
        while let Some(event) = self.pull_event() {
            self.state.set_aside(event);
        }
        Ok(())
    }

    responses_ws_adapter::connection_accessors!(state);

    /// Whether the conversation can send: the WebSocket open (upgraded and not closing), or
    /// HTTP + SSE and not closed.
    pub fn is_open(&self) -> bool {
        self.state.is_open(self.io.is_some())
    }

    // --- Driving ----------------------------------------------------------------------------

    /// The core's clock: time since this connection was made.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_elapsed(self.origin.elapsed())
    }

    /// The next event from the core (not from `set_aside`), reading, waiting and reconnecting
    /// as needed.
    pub(crate) fn next_from_core(&mut self) -> Result<Option<ClientEvent>, Error> {
        loop {
            if let Some(event) = self.pull_event() {
                return Ok(Some(event));
            }
            // The store refused what would have gone out: say so before waiting to read.
            self.state.store_result()?;
            if self.state.machine.transport() == TransportKind::Http {
                self.drop_transport();
                if self.state.machine.is_over() || !self.read_http() {
                    return Ok(None);
                }
            } else if self.io.is_some() {
                self.read_once();
            } else if let Some(at) = self.state.machine.next_dial() {
                thread::sleep(at.saturating_duration_since(self.now()));
                self.dial(at);
            } else {
                return Ok(None);
            }
        }
    }

    /// One event from the core, if it has one, then the output it may have queued.
    fn pull_event(&mut self) -> Option<ClientEvent> {
        let event = self.next_machine_event();
        self.flush();
        if let Some(event) = &event {
            self.observe(event);
        }
        event
    }

    /// Bookkeeping on an event going to the application (see
    /// [`ConnectionState::observe`]).
    fn observe(&mut self, event: &ClientEvent) {
        self.state.observe(event);
        if let ClientEvent::Disconnected { .. } = event {
            // The socket error, if one ended the connection, says more than the core.
            if let Some((addr, source)) = self.io_error.take() {
                self.state.record(ConnectError::Io { addr, source });
            }
        }
    }

    /// Opens a new transport and starts the upgrade on it, its connect timeout counting from
    /// `start` (the old transport, if any, is dropped once the new one is open). A failure
    /// goes to the core's retry budget, which decides what follows (`Reconnecting` or
    /// `GaveUp`).
    fn dial(&mut self, start: Instant) {
        let url = self.state.machine.url().clone();
        let opened = self.dialing.open(&url);
        let result = opened.and_then(|transport| {
            self.drop_transport();
            let seed = random::seed().map_err(ConnectError::Random)?;
            self.state
                .machine
                .connect(seed, start)
                .map_err(ConnectError::Handshake)?;
            Ok(transport)
        });
        match result {
            Ok(transport) => {
                self.io = Some(transport);
                self.read_closed = false;
                self.io_error = None;
                self.flush();
            }
            Err(error) => {
                let now = self.now();
                self.state.dial_failed(error, now);
            }
        }
    }

    /// Drives the connection until an upgrade succeeds or the retry budget is spent. Session
    /// events that arrive meanwhile are kept for `next_event`; the reports of failed
    /// attempts are summed up by the error.
    fn establish(&mut self) -> Result<(), ConnectError> {
        loop {
            let event = self.next_from_core().ok().flatten();
            if let Some(result) = self.state.establishing(event) {
                return result;
            }
        }
    }

    /// Blocks until the core's outbound queue has room for another request, driving the
    /// connection meanwhile (writing, reading, reconnecting) and setting its events aside.
    /// Ends early only when the connection is over for good (the core then refuses the call
    /// itself).
    fn room(&mut self) -> Result<(), Error> {
        while !self.state.machine.has_room() {
            self.flush();
            if self.state.machine.has_room() {
                break;
            }
            // Nobody takes events while this waits: past `MAX_SET_ASIDE_EVENTS` read no more,
            // only keep time; the core's deadlines end the wait.
            if self.state.holds_enough() && self.keep_time() {
                continue;
            }
            match self.next_from_core()? {
                Some(event) => self.state.set_aside(event),
                None => break,
            }
        }
        Ok(())
    }

    /// Sleeps until the core's next deadline and fires it, reading nothing; false (and no
    /// sleep) when the core has no deadline, since then only reading can end a wait.
    fn keep_time(&mut self) -> bool {
        let Some(deadline) = self.state.machine.poll_timeout() else {
            return false;
        };
        thread::sleep(deadline.saturating_duration_since(self.now()));
        self.state.machine.handle_timeout(self.now());
        true
    }

    /// One read from the socket into the core (or the deadline, if it comes first).
    fn read_once(&mut self) {
        let now = self.now();
        let timeout = match self.state.machine.poll_timeout() {
            Some(deadline) if deadline <= now => return self.state.machine.handle_timeout(now),
            deadline => deadline.map(|deadline| deadline - now),
        };
        let Some(io) = self.io.as_mut() else {
            return;
        };
        if self.read_closed {
            // The core was told; it reports the end before more is asked of the socket.
            return self.drop_transport();
        }
        let result = io
            .set_timeout(timeout)
            .and_then(|()| io.read(self.state.machine.input_buffer()));
        let now = self.now();
        match result {
            Ok(0) => {
                self.read_closed = true;
                self.state.machine.handle_eof(now);
            }
            Ok(n) => self.state.machine.commit_input(n, now),
            Err(error) if is_timeout(&error) => self.state.machine.handle_timeout(now),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => self.lose(error),
        }
    }

    /// Writes everything the core has queued, then closes the socket if the core is done
    /// with it. Blocks while the socket takes no more (the core's deadlines still fire).
    ///
    /// Write-ahead: the core's records are stored first, and nothing is written while any
    /// is not (the store's error waits for the caller).
    ///
    /// Over HTTP + SSE: opens the sockets the machine asks for (its events set aside) and
    /// writes every request.
    pub(crate) fn flush(&mut self) {
        if self.state.machine.transport() == TransportKind::Http {
            return self.flush_http();
        }
        if !self.state.persist() {
            return;
        }
        loop {
            while !self.outbound.is_full() {
                match self.state.machine.poll_transmit() {
                    Some(chunk) => self.outbound.push(chunk),
                    None => break,
                }
            }
            if self.outbound.is_empty() {
                break;
            }
            let now = self.now();
            let timeout = self
                .state
                .machine
                .poll_timeout()
                .map(|deadline| deadline - now);
            match self.io.as_mut() {
                // The socket is gone: what the core still queues has nowhere to go.
                None => self.outbound.clear(),
                Some(io) => {
                    let result = io
                        .set_timeout(timeout)
                        .and_then(|()| self.outbound.write_to(io));
                    if let Err(error) = result {
                        self.on_write_error(error);
                    }
                }
            }
        }
        self.flush_transport();
        if self.io.is_some() && self.state.machine.is_finished() {
            self.drop_transport();
        }
    }

    /// Pushes out what the transport itself buffers (TLS records).
    fn flush_transport(&mut self) {
        while let Some(io) = self.io.as_mut() {
            match io.flush() {
                Ok(()) => return,
                Err(error) => self.on_write_error(error),
            }
        }
    }

    /// A write failed. A timeout means a deadline of the core is due: it fires, and the
    /// socket is abandoned if the connection did not survive it (handshake, pong or close
    /// timeout). Any other error ends the socket.
    fn on_write_error(&mut self, error: io::Error) {
        if error.kind() == io::ErrorKind::Interrupted {
            return;
        }
        if is_timeout(&error) {
            self.absorb();
            self.state.machine.handle_timeout(self.now());
            if self.state.machine.is_open() {
                return;
            }
        }
        self.lose(error);
    }

    /// Takes in what the peer already sent, waiting at most a moment: while a long write
    /// blocks, the keepalive must not take a peer whose answers are merely unread for a
    /// dead one.
    fn absorb(&mut self) {
        let Some(io) = self.io.as_mut().filter(|_| !self.read_closed) else {
            return;
        };
        let space = self.state.machine.input_buffer();
        if space.is_empty() {
            return;
        }
        // The shortest timeout the transport takes: what is there is read, nothing awaited.
        let read = io
            .set_timeout(Some(Duration::ZERO))
            .and_then(|()| io.read(space));
        let now = self.now();
        match read {
            Ok(0) => {
                self.read_closed = true;
                self.state.machine.handle_eof(now);
            }
            Ok(n) => self.state.machine.commit_input(n, now),
            // Nothing there, or the error shows at the next read or write.
            Err(_) => {}
        }
    }

    /// The socket failed: it is dropped and the core sees the end of the stream.
    fn lose(&mut self, error: io::Error) {
        if let Some(io) = &self.io {
            self.io_error = Some((io.target().to_owned(), error));
        }
        self.drop_transport();
        self.state.machine.handle_eof(self.now());
    }

    // --- HTTP + SSE -------------------------------------------------------------------------

    /// The next event for the application from the machine, carrying out what it asks of
    /// the HTTP sockets on the way (dial and write, close).
    fn next_machine_event(&mut self) -> Option<ClientEvent> {
        let origin = self.origin;
        let now = move || Instant::from_elapsed(origin.elapsed());
        self.state.next_machine_event(now, |state, request| {
            self.http.carry_out(request, state, &self.dialing, now)
        })
    }

    /// Carries out the machine's socket requests (its events stay there, in order), then
    /// writes what each socket has to send.
    ///
    /// Write-ahead: the core's records are stored first (which lets the requests they
    /// describe start), and nothing is written while any is not.
    fn flush_http(&mut self) {
        if !self.state.persist() {
            return;
        }
        let origin = self.origin;
        let now = move || Instant::from_elapsed(origin.elapsed());
        while let Some(request) = self.state.machine.poll_socket() {
            self.http
                .carry_out(request, &mut self.state, &self.dialing, now);
        }
        if let Some(client) = self.state.machine.http_mut() {
            self.http.write(client, now);
        }
    }

    /// One read of an HTTP socket into the core, or the core's deadline if it comes first;
    /// `false` when no socket is open and no deadline is set: nothing can arrive.
    fn read_http(&mut self) -> bool {
        let now = self.now();
        let deadline = self.state.machine.poll_timeout();
        if deadline.is_some_and(|deadline| deadline <= now) {
            self.state.machine.handle_timeout(now);
            return true;
        }
        let origin = self.origin;
        let now = move || Instant::from_elapsed(origin.elapsed());
        let Some(client) = self.state.machine.http_mut() else {
            return true;
        };
        self.http.read_once(client, deadline, now)
    }

    fn drop_transport(&mut self) {
        if let Some(io) = self.io.take() {
            io.shutdown();
        }
        self.outbound.clear();
    }
}
