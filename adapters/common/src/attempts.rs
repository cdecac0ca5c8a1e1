//! [`Attempts`]: what a driver remembers across connection attempts — the last attempt's
//! error (what `connect` fails with), the headers of the last `101` — and the bookkeeping
//! each event gets on its way to the application (fresh credentials are the
//! [`Machine`]'s, for both transports). Every
//! driver (async and blocking) keeps one, so none repeats this; the retry decisions
//! themselves are the core's.

use std::collections::VecDeque;

use responses_ws_core::client::ClientEvent;
use responses_ws_core::ws::{self, Header};
use responses_ws_core::Instant;

use crate::{ConnectError, Machine};

/// The memory of a driver's connection attempts.
///
/// ```
/// use std::collections::VecDeque;
/// use responses_ws_adapter::{Attempts, ConnectError};
///
/// let mut attempts = Attempts::new();
/// // Nothing recorded: a lost connection is what `connect` reports.
/// let Some(Err(error)) = attempts.establishing(None, &mut VecDeque::new()) else { unreachable!() };
/// assert!(matches!(error, ConnectError::Closed(_)));
/// ```
#[derive(Debug, Default)]
pub struct Attempts {
    /// The error of the last failed attempt (a dial or an upgrade), for `connect`'s error.
    last_error: Option<ConnectError>,
    /// The headers of the last `101 Switching Protocols`.
    headers: Vec<Header>,
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
    /// connection is over and no new one follows): `Some` result once the wait is over;
    /// session events go to `keep`, in order, for the application, and the reports of
    /// failed attempts are summed up by the error. A spent budget fails with
    /// [`ConnectError::GaveUp`], carrying the attempts and the last attempt's error. A move
    /// to HTTP + SSE ([`ClientEvent::UseHttp`]) ends the wait too: the conversation goes on
    /// there, and the event is kept for the application.
    pub fn establishing(
        &mut self,
        event: Option<ClientEvent>,
        keep: &mut VecDeque<ClientEvent>,
    ) -> Option<Result<(), ConnectError>> {
        match event {
            Some(ClientEvent::Connected { .. }) => Some(Ok(())),
            Some(event @ ClientEvent::UseHttp { .. }) => {
                self.last_error = None;
                keep.push_back(event);
                Some(Ok(()))
            }
            Some(ClientEvent::GaveUp(gave_up)) => Some(Err(ConnectError::GaveUp {
                attempts: gave_up.attempts,
                last: Box::new(self.take_last_error()),
            })),
            Some(event @ ClientEvent::Session(_)) => {
                keep.push_back(event);
                None
            }
            Some(_) => None,
            None => Some(Err(self.take_last_error())),
        }
    }

    /// The error of the last failed attempt (a lost connection if none was recorded).
    fn take_last_error(&mut self) -> ConnectError {
        self.last_error
            .take()
            .unwrap_or(ConnectError::Closed(ws::Error::ConnectionLost))
    }
}
