//! The errors of the WebSocket layer: protocol violations by the peer (each with the close code
//! it earns), handshake failures, send refusals and the reasons a connection ended.

use super::handshake::HandshakeError;
use core::fmt;

/// The peer broke RFC 6455. The connection is failed with [`ProtocolError::close_code`]
/// (written with the close codes, in `close.rs`: this module names no close code).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An RSV bit that no negotiated extension gives a meaning: RSV2, RSV3, or RSV1 without
    /// permessage-deflate, on a control frame or on a continuation frame.
    ReservedBits,
    /// An opcode reserved for future use.
    ReservedOpcode(u8),
    /// A 64-bit payload length with its most significant bit set.
    InvalidLength,
    /// A control frame longer than 125 bytes.
    ControlFrameTooLong,
    /// A control frame without FIN.
    FragmentedControlFrame,
    /// A client sent an unmasked frame.
    UnmaskedFrame,
    /// A server sent a masked frame.
    MaskedFrame,
    /// A continuation frame with no message in progress.
    UnexpectedContinuation,
    /// A new data frame while a fragmented message was still in progress.
    ExpectedContinuation,
    /// Text (or a close reason) that is not UTF-8.
    InvalidUtf8,
    /// A compressed message whose DEFLATE data is invalid (permessage-deflate).
    InvalidCompressedData,
    /// A close payload of one byte.
    CloseFrameTooShort,
    /// A close code that may not be sent on the wire.
    InvalidCloseCode(u16),
    /// A frame's payload exceeds the configured limit.
    FrameTooLarge {
        /// Announced payload length.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// A message exceeds the configured limit.
    MessageTooLarge {
        /// Size the message would reach.
        len: u64,
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedBits => {
                f.write_str("reserved bits set without a negotiated meaning")
            }
            ProtocolError::InvalidCompressedData => {
                f.write_str("compressed message holds invalid DEFLATE data")
            }
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::InvalidLength => {
                f.write_str("payload length has its most significant bit set")
            }
            ProtocolError::ControlFrameTooLong => {
                f.write_str("control frame payload longer than 125 bytes")
            }
            ProtocolError::FragmentedControlFrame => f.write_str("fragmented control frame"),
            ProtocolError::UnmaskedFrame => f.write_str("client frame is not masked"),
            ProtocolError::MaskedFrame => f.write_str("server frame is masked"),
            ProtocolError::UnexpectedContinuation => {
                f.write_str("continuation frame without a message in progress")
            }
            ProtocolError::ExpectedContinuation => {
                f.write_str("new message before the fragmented one ended")
            }
            ProtocolError::InvalidUtf8 => f.write_str("text is not valid UTF-8"),
            ProtocolError::CloseFrameTooShort => f.write_str("close payload of one byte"),
            ProtocolError::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            ProtocolError::FrameTooLarge { len, limit } => {
                write!(f, "frame of {len} bytes exceeds the {limit}-byte limit")
            }
            ProtocolError::MessageTooLarge { len, limit } => {
                write!(f, "message of {len} bytes exceeds the {limit}-byte limit")
            }
        }
    }
}

/// Why a connection ended abnormally. Carried by [`Closed`](super::Closed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The opening handshake failed (including an HTTP answer other than 101).
    Handshake(HandshakeError),
    /// The peer broke the protocol; we sent a close frame with the violation's code.
    Protocol(ProtocolError),
    /// The opening handshake did not finish in time.
    HandshakeTimeout,
    /// Nothing arrived from the peer for the keepalive interval plus the pong deadline.
    PeerTimeout,
    /// The peer did not answer our close frame in time.
    CloseTimeout,
    /// The transport ended without a close handshake.
    ConnectionLost,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            Error::Protocol(e) => write!(f, "protocol violation by the peer: {e}"),
            Error::HandshakeTimeout => f.write_str("opening handshake timed out"),
            Error::PeerTimeout => {
                f.write_str("peer stopped responding (no data or pong before the deadline)")
            }
            Error::CloseTimeout => f.write_str("peer did not answer the close frame in time"),
            Error::ConnectionLost => f.write_str("connection lost without a close handshake"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Handshake(e) => Some(e),
            Error::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}

/// Why a message or control frame could not be queued for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is not open (still handshaking, closing or closed).
    NotOpen,
    /// The outbound queue holds `queued` bytes and the limit is `limit`: write some out first.
    QueueFull {
        /// Bytes waiting to be written.
        queued: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A control payload longer than 125 bytes.
    ControlPayloadTooLong,
    /// A close code that may not be sent.
    InvalidCloseCode(u16),
    /// A fragment out of order: a continuation with no message begun, or a new message begun
    /// before the previous fragmented one was finished.
    FragmentOutOfOrder,
    /// Text fragments that do not form valid UTF-8.
    InvalidUtf8,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotOpen => f.write_str("connection is not open"),
            SendError::QueueFull { queued, limit } => write!(
                f,
                "outbound queue full ({queued} bytes queued, limit {limit})"
            ),
            SendError::ControlPayloadTooLong => {
                f.write_str("control payload longer than 125 bytes")
            }
            SendError::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            SendError::FragmentOutOfOrder => f.write_str("fragment out of order"),
            SendError::InvalidUtf8 => f.write_str("text fragments are not valid UTF-8"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SendError {}
