//! [`Attempts`]: what a driver remembers across connection attempts — the last attempt's
//! error (what `connect` fails with), the headers of the last `101` — and the bookkeeping
//! each event gets on its way to the application (fresh credentials are the
//! [`Machine`]'s, for both transports). Every
//! driver (async and blocking) keeps one, so none repeats this; the retry decisions
//! themselves are the core's.

use responses_ws_core::client::ClientEvent;
use responses_ws_core::ws::{self, Header};
use responses_ws_core::Instant;

use crate::{ConnectError, Machine};

/// The memory of a driver's connection attempts.
///
/// ```
/// use responses_ws_adapter::{Attempts, ConnectError, Establishing};
///
/// let mut attempts = Attempts::new();
/// // Nothing recorded: a lost connection is what `connect` reports.
/// let Establishing::Done(Err(error)) = attempts.establishing(None) else { unreachable!() };
/// assert!(matches!(error, ConnectError::Closed(_)));
/// ```
#[derive(Debug, Default)]
pub struct Attempts {
    /// The error of the last failed attempt (a dial or an upgrade), for `connect`'s error.
    last_error: Option<ConnectError>,
    /// The headers of the last `101 Switching Protocols`.
    headers: Vec<Header>,
}

/// What an event means to a driver that waits for an upgrade ([`Attempts::establishing`]).
#[derive(Debug)]
#[non_exhaustive]
// Short-lived and moved on at once: boxing the event would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Establishing {
    /// The wait is over: connected, or the attempts failed (the error sums them up).
    Done(Result<(), ConnectError>),
    /// A session event: keep it, in order, for the application.
    Keep(ClientEvent),
    /// The conversation moved to HTTP + SSE: keep the event for the application; the wait
    /// is over.
    KeepAndDone(ClientEvent),
    /// A report of a failed attempt, which the error sums up: go on.
    Continue,
}

impl Attempts {
    /// The memory of a new connection.
    pub fn new() -> Attempts {
        Attempts::default()
    }

    /// The headers of the server's last `101 Switching Protocols` answer.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// Records `error` as the last attempt's (a socket error the driver saw, which says more
    /// than the core's "connection lost").
    pub fn record(&mut self, error: ConnectError) {
        self.last_error = Some(error);
    }

    /// A dial failed before the upgrade: records it, and the core's retry budget decides
    /// what follows (`Reconnecting` or `GaveUp`).
    pub fn dial_failed(&mut self, machine: &mut Machine, error: ConnectError, now: Instant) {
        let failure = error.failure();
        self.record(error);
        machine.dial_failed(failure, now);
    }

    /// Bookkeeping on an event going to the application: the last upgrade headers, the last
    /// error of an attempt.
    pub fn observe(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::Connected { headers } => {
                self.headers.clone_from(headers);
                self.last_error = None;
            }
            ClientEvent::Disconnected { closed } if closed.error.is_some() => {
                self.record(ConnectError::from_closed(closed.error.clone()));
            }
            _ => {}
        }
    }

    /// Forgets the last error: a new streak of attempts begins (`connect`, `reconnect`).
    pub fn restart(&mut self) {
        self.last_error = None;
    }

    /// What the next event means while a driver waits for an upgrade (`None`: the
    /// connection is over and no new one follows). A spent budget fails with
    /// [`ConnectError::GaveUp`], carrying the attempts and the last attempt's error. A move
    /// to HTTP + SSE ([`ClientEvent::UseHttp`]) ends the wait too: the conversation goes on
    /// there, and the event is kept for the application.
    pub fn establishing(&mut self, event: Option<ClientEvent>) -> Establishing {
        match event {
            Some(ClientEvent::Connected { .. }) => Establishing::Done(Ok(())),
            Some(event @ ClientEvent::UseHttp { .. }) => {
                self.last_error = None;
                Establishing::KeepAndDone(event)
            }
            Some(ClientEvent::GaveUp(gave_up)) => Establishing::Done(Err(ConnectError::GaveUp {
                attempts: gave_up.attempts,
                last: Box::new(self.take_last_error()),
            })),
            Some(event @ ClientEvent::Session(_)) => Establishing::Keep(event),
            Some(_) => Establishing::Continue,
            None => Establishing::Done(Err(self.take_last_error())),
        }
    }

    /// The error of the last failed attempt (a lost connection if none was recorded).
    fn take_last_error(&mut self) -> ConnectError {
        self.last_error
            .take()
            .unwrap_or(ConnectError::Closed(ws::Error::ConnectionLost))
    }
}
