//! Faults a script can inject: per-turn failures, errors, closes and stalls, the
//! connection-age limit, an abrupt drop, a refused or unanswered upgrade, a server that stops
//! reading, one that breaks the WebSocket protocol, and a revoked API key.
//!
//! Faults that concern a connection carry an optional `connection` index: `None` applies to
//! every connection, `Some(i)` only to the connection created with index `i` (so that, say, the
//! first connection drops and the reconnection works).

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration_ms;

/// The faults of a script. The default injects nothing but keeps the real server's 60-minute
/// connection age limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Faults {
    /// Failures and errors at given turns.
    pub turns: Vec<TurnFault>,
    /// The connection-age limit.
    pub age_limit: AgeLimit,
    /// Drop the transport abruptly after some server events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop: Option<DropFault>,
    /// Refuse the WebSocket upgrade (see [`Script::upgrade`](super::Script::upgrade)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refuse_upgrade: Option<UpgradeFault>,
    /// Stop reading client frames (see
    /// [`MockConnection::is_reading`](super::MockConnection::is_reading)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reading: Option<StopReading>,
    /// Answer the first client frame with bytes that break RFC 6455 (see
    /// [`Action::SendRaw`](super::Action::SendRaw)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_protocol: Option<ProtocolBreak>,
    /// An API key the server no longer takes (rotated, revoked): an upgrade request or a
    /// `POST` with `Authorization: Bearer <it>` is refused with `401 invalid_api_key` (see
    /// [`Script::upgrade_request`](super::Script::upgrade_request) and
    /// [`HttpConnection::refusing_key`](super::HttpConnection::refusing_key)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_api_key: Option<String>,
}

/// A fault that hits the request of a given turn (the 0-based index of the model response it
/// would produce). Warm-ups (`generate: false`) are never hit.
///
/// ```
/// use responses_ws_core::mock::TurnFault;
///
/// // The second model response fails once per connection; the retry succeeds.
/// let flaky = TurnFault::failed(1).times(1);
/// // The first request of every conversation is rate limited, on connection 0 only.
/// let limited = TurnFault::error(0, 429, "rate_limit_exceeded", "Slow down.").on_connection(0);
/// # let _ = (flaky, limited);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TurnFault {
    /// The turn hit.
    pub turn: u32,
    /// What happens.
    pub outcome: FaultOutcome,
    /// How many requests it hits per connection (each [`HttpMock`](super::HttpMock) counts as
    /// one connection); `None` hits every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Only on this connection index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<u32>,
}

/// What a [`TurnFault`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultOutcome {
    /// The response starts (`response.created`, `response.in_progress`) and ends
    /// `response.failed` with this error.
    Failed {
        /// `response.error.code`, e.g. `server_error`.
        code: String,
        /// `response.error.message`.
        message: String,
    },
    /// The request never starts: one `error` event (an HTTP error status over HTTP).
    Error {
        /// HTTP-equivalent status, e.g. 429 or 500.
        status: u16,
        /// `error.type`; by default `server_error` for 5xx, else `invalid_request_error`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        /// `error.code`, e.g. `rate_limit_exceeded`.
        code: String,
        /// `error.message`.
        message: String,
    },
    /// The request never starts: the server closes the WebSocket with this code (1011, an
    /// internal error, say) before `response.created`.
    Close {
        /// The close code.
        code: u16,
        /// The close reason.
        #[serde(default)]
        reason: String,
    },
    /// The response starts (`response.created`) and then nothing more, ever: pings are still
    /// answered, so only a stream idle timeout finds it. Over HTTP the stream ends there.
    Stall,
}

impl TurnFault {
    /// `response.failed` with `server_error` at `turn`, every time.
    pub fn failed(turn: u32) -> Self {
        TurnFault::new(
            turn,
            FaultOutcome::Failed {
                code: "server_error".into(),
                message: "The model failed to generate a response.".into(),
            },
        )
    }

    /// An `error` event (status, code, message) instead of the response at `turn`, every time.
    pub fn error(
        turn: u32,
        status: u16,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        TurnFault::new(
            turn,
            FaultOutcome::Error {
                status,
                error_type: None,
                code: code.into(),
                message: message.into(),
            },
        )
    }

    /// A fault with this outcome at `turn`, every time, on every connection.
    pub fn new(turn: u32, outcome: FaultOutcome) -> Self {
        TurnFault {
            turn,
            outcome,
            times: None,
            connection: None,
        }
    }

    /// Hits only the first `times` requests of the turn per connection.
    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    /// Hits only on connection `index`.
    pub fn on_connection(mut self, index: u32) -> Self {
        self.connection = Some(index);
        self
    }
}

/// The connection-age limit: after `after` (connection age) or `after_responses` (responses
/// started on the connection), the server sends an `error` with code
/// `websocket_connection_limit_reached` (no `stream_id`) and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AgeLimit {
    /// Maximum connection age. Default 60 minutes (OpenAI's). JSON: `after_ms`.
    #[serde(rename = "after_ms", with = "duration_ms::option")]
    pub after: Option<Duration>,
    /// Maximum responses started on one connection (warm-ups included). Default none.
    pub after_responses: Option<u32>,
    /// When the error is sent.
    pub notice: AgeNotice,
    /// Close code sent after the error (OpenAI's is undocumented). Default 1001 (going away).
    pub close_code: u16,
}

/// When the connection-age error is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AgeNotice {
    /// As soon as the limit is reached and the connection is idle (running responses finish
    /// first), without waiting for a request. Default.
    #[default]
    Unprompted,
    /// Only in reply to the next `response.create`.
    InReply,
}

impl Default for AgeLimit {
    fn default() -> Self {
        AgeLimit {
            after: Some(Duration::from_secs(60 * 60)),
            after_responses: None,
            notice: AgeNotice::Unprompted,
            close_code: 1001,
        }
    }
}

impl AgeLimit {
    /// No age limit at all.
    pub fn none() -> Self {
        AgeLimit {
            after: None,
            ..AgeLimit::default()
        }
    }

    /// The limit is reached after `age`.
    pub fn after(age: Duration) -> Self {
        AgeLimit {
            after: Some(age),
            ..AgeLimit::default()
        }
    }

    /// The limit is reached once `responses` responses have started (and not by age).
    pub fn after_responses(responses: u32) -> Self {
        AgeLimit {
            after: None,
            after_responses: Some(responses),
            ..AgeLimit::default()
        }
    }

    /// Sends the error only in reply to a `response.create`.
    pub fn in_reply(mut self) -> Self {
        self.notice = AgeNotice::InReply;
        self
    }
}

/// Drop the transport abruptly (no close frame) right after the `after_events`-th server event
/// of a connection (counted over the connection, all lanes; over HTTP, over the
/// [`HttpMock`](super::HttpMock)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DropFault {
    /// Events sent before the drop (at least 1 is sent).
    pub after_events: u64,
    /// Only on this connection index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<u32>,
}

impl DropFault {
    /// Drops every connection after `after_events` events.
    pub fn after_events(after_events: u64) -> Self {
        DropFault {
            after_events,
            connection: None,
        }
    }

    /// Drops only connection `index`.
    pub fn on_connection(mut self, index: u32) -> Self {
        self.connection = Some(index);
        self
    }
}

/// Refuse the WebSocket upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UpgradeFault {
    /// How.
    pub refusal: Refusal,
    /// Only on this connection index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<u32>,
    /// Only on the connections with an index below this one (a storm that passes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<u32>,
}

impl UpgradeFault {
    /// Refuses every upgrade.
    pub fn new(refusal: Refusal) -> Self {
        UpgradeFault {
            refusal,
            connection: None,
            first: None,
        }
    }

    /// Refuses only connection `index`.
    pub fn on_connection(mut self, index: u32) -> Self {
        self.connection = Some(index);
        self
    }

    /// Refuses only the first `count` connections (indices `0..count`); later ones are
    /// accepted.
    pub fn first(mut self, count: u32) -> Self {
        self.first = Some(count);
        self
    }
}

/// How an upgrade is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// 401, `invalid_api_key`.
    Unauthorized,
    /// 429, `rate_limit_exceeded`, with `Retry-After`.
    RateLimited {
        /// The `Retry-After` value in seconds.
        retry_after_secs: u64,
    },
    /// 426 Upgrade Required: the client should fall back to HTTP.
    UpgradeRequired,
    /// 503 Service Unavailable, `server_error`, with `Retry-After`.
    ServiceUnavailable {
        /// The `Retry-After` value in seconds.
        retry_after_secs: u64,
    },
    /// No answer at all: the request is read and the connection held open, silent, until the
    /// client gives up (see [`Upgrade::Ignore`](super::Upgrade::Ignore)).
    NoAnswer,
}

/// Answer the first client frame of a connection with a frame that breaks RFC 6455, then
/// nothing more: the client must close (1002 or 1007) and decide whether to try again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtocolBreak {
    /// What is wrong with the frame.
    pub kind: BreakKind,
    /// Only on this connection index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<u32>,
}

/// How a [`ProtocolBreak`] breaks the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BreakKind {
    /// A text frame masked by the server (servers must not mask): the client closes 1002.
    MaskedFrame,
    /// A text frame whose payload is not UTF-8: the client closes 1007.
    InvalidUtf8,
}

impl ProtocolBreak {
    /// Breaks every connection this way.
    pub fn new(kind: BreakKind) -> Self {
        ProtocolBreak {
            kind,
            connection: None,
        }
    }

    /// Breaks only connection `index`.
    pub fn on_connection(mut self, index: u32) -> Self {
        self.connection = Some(index);
        self
    }

    /// The offending frame's bytes, as they go on the wire.
    ///
    /// ```
    /// use responses_ws_core::mock::{BreakKind, ProtocolBreak};
    ///
    /// let masked = ProtocolBreak::new(BreakKind::MaskedFrame).frame();
    /// assert_eq!(masked[1] & 0x80, 0x80, "the mask bit is set");
    /// let invalid = ProtocolBreak::new(BreakKind::InvalidUtf8).frame();
    /// assert!(core::str::from_utf8(&invalid[2..]).is_err());
    /// ```
    pub fn frame(&self) -> Vec<u8> {
        match self.kind {
            // FIN + text, mask bit + length 2, a zero mask key, "{}".
            BreakKind::MaskedFrame => alloc::vec![0x81, 0x82, 0, 0, 0, 0, b'{', b'}'],
            // FIN + text, length 2, an invalid two-byte sequence.
            BreakKind::InvalidUtf8 => alloc::vec![0x81, 0x02, 0xc3, 0x28],
        }
    }
}

/// Stop reading client frames after some have been read, so that backpressure builds up in
/// the transport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StopReading {
    /// Client frames read before stopping (0: none at all).
    pub after_frames: u64,
    /// Only on this connection index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<u32>,
}

impl StopReading {
    /// Stops reading on every connection after `after_frames` frames.
    pub fn after_frames(after_frames: u64) -> Self {
        StopReading {
            after_frames,
            connection: None,
        }
    }

    /// Only on connection `index`.
    pub fn on_connection(mut self, index: u32) -> Self {
        self.connection = Some(index);
        self
    }
}

/// Whether a fault restricted to `filter` applies to connection `index`.
pub(crate) fn on_connection(filter: Option<u32>, index: u32) -> bool {
    filter.is_none_or(|only| only == index)
}
