//! [`Failure`]: why a connection or an attempt ended badly, and what that means for retrying
//! ([`FailureClass`]); [`RetrySafety`]: how far a request got; [`GaveUp`]: the error of a
//! request (or of the client) once retrying is over.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::time::Duration;

use crate::wire::ApiError;
use crate::ws::{self, CloseCode, Closed, HandshakeError, HttpResponse};

/// Why a connection, or an attempt to open one, failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Failure {
    /// The server answered the upgrade with an HTTP error (the whole answer: status,
    /// headers such as `Retry-After`, body).
    Refused(Box<HttpResponse>),
    /// The server answered the upgrade with something that is not a valid one.
    BadUpgrade(HandshakeError),
    /// The server closed the connection with a close frame.
    Closed {
        /// The server's close code.
        code: CloseCode,
        /// The reason it gave.
        reason: String,
    },
    /// The server broke the WebSocket protocol; we closed with `code`.
    Protocol {
        /// The code we closed with (1002, 1007, 1009).
        code: CloseCode,
        /// What the server did.
        error: ws::ProtocolError,
    },
    /// The transport ended without a close handshake (a TCP reset or end of file).
    Dropped,
    /// Nothing arrived from the server within the keepalive interval plus the pong deadline.
    PeerTimeout,
    /// Opening the socket failed (DNS, TCP, TLS), as the adapter reports it.
    Transport {
        /// What went wrong.
        message: String,
        /// Whether another attempt could succeed (a refused TCP connection: yes; an
        /// untrusted certificate: no).
        transient: bool,
    },
    /// TCP, TLS and the upgrade did not finish within the connect timeout.
    ConnectTimeout,
    /// A response in flight got no event within the stream idle timeout.
    IdleTimeout,
    /// A running response's events passed the session's
    /// [`max_response_bytes`](crate::session::SessionConfig::max_response_bytes): the
    /// connection was given up to stop the stream.
    ResponseTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The server ended the connection at its age limit
    /// (`websocket_connection_limit_reached`).
    ConnectionLimit,
    /// The server closed with 1008 (policy violation): it will not serve this connection.
    /// Seen when WebSocket mode (or a beta it needs) is not enabled for the API key or its
    /// organization. Final: another attempt is refused the same way.
    PolicyClose {
        /// The reason the server gave.
        reason: String,
    },
    /// The server sent an error that concerns the whole connection.
    ServerError(Box<ApiError>),
}

/// What a [`Failure`] means for retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureClass {
    /// Worth another attempt, within the budget.
    Transient,
    /// The server broke the protocol: worth at most
    /// [`RetryPolicy::protocol_retries`](super::RetryPolicy::protocol_retries) more.
    Protocol,
    /// The credentials were refused (401): worth exactly one more attempt when fresh
    /// credentials can be had, final otherwise.
    Credentials,
    /// Another attempt would fail the same way (403, 426, a normal close …).
    Final,
}

impl Failure {
    /// How a connection that ended like `closed` failed.
    pub fn from_closed(closed: &Closed) -> Failure {
        match &closed.error {
            Some(ws::Error::Handshake(HandshakeError::Rejected(response))) => {
                Failure::Refused(response.clone())
            }
            Some(ws::Error::Handshake(HandshakeError::UnexpectedEof)) => Failure::Dropped,
            Some(ws::Error::Handshake(error)) => Failure::BadUpgrade(error.clone()),
            Some(ws::Error::HandshakeTimeout) => Failure::ConnectTimeout,
            Some(ws::Error::Protocol(error)) => Failure::Protocol {
                code: closed.sent_code.unwrap_or(CloseCode::PROTOCOL_ERROR),
                error: error.clone(),
            },
            Some(ws::Error::PeerTimeout) => Failure::PeerTimeout,
            Some(ws::Error::ConnectionLost) | Some(ws::Error::CloseTimeout) => Failure::Dropped,
            None if closed.code == CloseCode::ABNORMAL => Failure::Dropped,
            None if closed.code == CloseCode::POLICY_VIOLATION => Failure::PolicyClose {
                reason: String::from(closed.reason.as_str()),
            },
            // Our own closes (the application's, the session's) are told apart by the client,
            // which knows it sent them.
            None => Failure::Closed {
                code: closed.code,
                reason: String::from(closed.reason.as_str()),
            },
        }
    }

    /// Whether, and how, another attempt is worth it.
    pub fn class(&self) -> FailureClass {
        match self {
            Failure::Refused(response) => match response.status {
                401 => FailureClass::Credentials,
                408 | 429 | 500..=599 => FailureClass::Transient,
                _ => FailureClass::Final,
            },
            Failure::BadUpgrade(_) | Failure::Protocol { .. } => FailureClass::Protocol,
            Failure::Closed { code, .. } => {
                const TRANSIENT: [CloseCode; 7] = [
                    CloseCode::GOING_AWAY,
                    CloseCode::NO_STATUS,
                    CloseCode::ABNORMAL,
                    CloseCode::INTERNAL_ERROR,
                    CloseCode::SERVICE_RESTART,
                    CloseCode::TRY_AGAIN_LATER,
                    CloseCode::TLS_HANDSHAKE,
                ];
                if TRANSIENT.contains(code) {
                    FailureClass::Transient
                } else {
                    FailureClass::Final
                }
            }
            Failure::Transport { transient, .. } => {
                if *transient {
                    FailureClass::Transient
                } else {
                    FailureClass::Final
                }
            }
            Failure::Dropped
            | Failure::PeerTimeout
            | Failure::ConnectTimeout
            | Failure::IdleTimeout
            | Failure::ConnectionLimit
            | Failure::ServerError(_) => FailureClass::Transient,
            // A stream without end is a server out of order, as a protocol breach is.
            Failure::ResponseTooLarge { .. } => FailureClass::Protocol,
            Failure::PolicyClose { .. } => FailureClass::Final,
        }
    }

    /// The HTTP status of a refused upgrade.
    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Refused(response) => Some(response.status),
            _ => None,
        }
    }

    /// The close code, when the connection closed with one.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Failure::Closed { code, .. } | Failure::Protocol { code, .. } => Some(*code),
            Failure::PolicyClose { .. } => Some(CloseCode::POLICY_VIOLATION),
            _ => None,
        }
    }

    /// The wait a refusal asks for with `Retry-After` (in seconds; an HTTP date is not
    /// understood and ignored).
    pub fn retry_after(&self) -> Option<Duration> {
        let Failure::Refused(response) = self else {
            return None;
        };
        let seconds = response.header("retry-after")?.trim().parse::<u64>().ok()?;
        Some(Duration::from_secs(seconds))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused(response) => {
                write!(
                    f,
                    "upgrade refused with {} {}",
                    response.status, response.reason
                )?;
                let body = String::from_utf8_lossy(&response.body);
                let body = body.trim();
                if !body.is_empty() {
                    let cut: String = body.chars().take(200).collect();
                    write!(f, ": {cut}")?;
                }
                Ok(())
            }
            Failure::BadUpgrade(error) => write!(f, "bad upgrade answer: {error}"),
            Failure::Closed { code, reason } => {
                write!(f, "the server closed the connection with {}", code.0)?;
                if !reason.is_empty() {
                    write!(f, " ({reason})")?;
                }
                Ok(())
            }
            Failure::Protocol { code, error } => {
                write!(
                    f,
                    "the server broke the protocol ({error}); closed with {}",
                    code.0
                )
            }
            Failure::Dropped => f.write_str("the connection dropped without a close handshake"),
            Failure::PeerTimeout => f.write_str("the server stopped answering pings"),
            Failure::Transport { message, .. } => write!(f, "cannot connect: {message}"),
            Failure::ConnectTimeout => f.write_str("connecting timed out"),
            Failure::IdleTimeout => f.write_str("no event for the running response in time"),
            Failure::ResponseTooLarge { limit } => {
                write!(f, "the running response passed the limit of {limit} bytes")
            }
            Failure::ConnectionLimit => f.write_str("the server's connection age limit"),
            Failure::PolicyClose { reason } => {
                f.write_str("the server refused this connection by policy (close 1008")?;
                if !reason.is_empty() {
                    write!(f, ": {reason}")?;
                }
                f.write_str("); is WebSocket mode enabled for this API key and organization?")
            }
            Failure::ServerError(error) => write!(f, "server error: {error}"),
        }
    }
}

/// How far a request got before its connection failed, which says whether sending it again
/// is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RetrySafety {
    /// It never left the client: safe to send.
    NeverSent,
    /// It was sent, but no `response.created` came back: the server did not start it, so it
    /// is safe to send again on a new connection, with its full context.
    SentNotStarted,
    /// The response had started: the server may have acted on it (server-side tools, a
    /// stored response). It is reported as interrupted and sent again only with
    /// [`RetryPolicy::retry_started`](super::RetryPolicy::retry_started).
    Started,
}

impl fmt::Display for RetrySafety {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RetrySafety::NeverSent => "never sent",
            RetrySafety::SentNotStarted => "sent, not started",
            RetrySafety::Started => "started",
        })
    }
}

/// Retrying is over: the last failure, the attempts made, and how far the request got.
/// Its input (and every tool output) stays in the ledger; a later request of the lane sends
/// it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GaveUp {
    /// The last failure.
    pub cause: Failure,
    /// Attempts made: sends of the request, or connections of the streak.
    pub attempts: u32,
    /// How far the request got.
    pub safety: RetrySafety,
}

impl GaveUp {
    /// The error for `cause` after `attempts` attempts.
    pub fn new(cause: Failure, attempts: u32, safety: RetrySafety) -> Self {
        GaveUp {
            cause,
            attempts,
            safety,
        }
    }
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gave up after {} attempt(s) ({}): {}",
            self.attempts, self.safety, self.cause
        )
    }
}

impl core::error::Error for GaveUp {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::Header;

    fn closed(code: u16, sent: Option<u16>, clean: bool) -> Closed {
        Closed {
            code: CloseCode(code),
            reason: Default::default(),
            sent_code: sent.map(CloseCode),
            clean,
            error: None,
        }
    }

    fn refused(status: u16, retry_after: Option<&str>) -> Failure {
        let headers = retry_after
            .map(|value| Header {
                name: "Retry-After".into(),
                value: value.as_bytes().to_vec(),
            })
            .into_iter()
            .collect();
        Failure::Refused(Box::new(HttpResponse {
            status,
            reason: "".into(),
            headers,
            body: Default::default(),
            body_truncated: false,
        }))
    }

    #[test]
    fn server_closes_are_transient_only_for_the_temporary_codes() {
        for code in [1001, 1005, 1011, 1012, 1013, 1015] {
            let failure = Failure::from_closed(&closed(code, Some(code), true));
            assert_eq!(failure.class(), FailureClass::Transient, "{code}");
        }
        for code in [1000, 1003, 1008, 1010, 4000] {
            let failure = Failure::from_closed(&closed(code, Some(code), true));
            assert_eq!(failure.class(), FailureClass::Final, "{code}");
        }
        assert_eq!(
            Failure::from_closed(&closed(1006, None, false)),
            Failure::Dropped
        );
    }

    #[test]
    fn a_policy_close_says_websocket_mode_may_not_be_enabled() {
        let failure = Failure::from_closed(&closed(1008, Some(1008), true));
        assert!(
            matches!(failure, Failure::PolicyClose { .. }),
            "{failure:?}"
        );
        assert_eq!(failure.class(), FailureClass::Final);
        assert_eq!(failure.close_code(), Some(CloseCode::POLICY_VIOLATION));
        assert!(
            failure.to_string().contains("WebSocket mode enabled"),
            "{failure}"
        );
    }

    #[test]
    fn refusals_are_classed_by_status_and_retry_after_is_read() {
        for status in [408, 429, 500, 502, 503] {
            assert_eq!(refused(status, None).class(), FailureClass::Transient);
        }
        assert_eq!(refused(401, None).class(), FailureClass::Credentials);
        for status in [400, 403, 404, 426] {
            assert_eq!(refused(status, None).class(), FailureClass::Final);
        }
        assert_eq!(
            refused(503, Some("7")).retry_after(),
            Some(Duration::from_secs(7))
        );
        assert_eq!(refused(503, Some("soon")).retry_after(), None);
        assert_eq!(refused(503, None).status(), Some(503));
    }
}
