//! The WebSocket layer (RFC 6455): a pure state machine that turns bytes into messages and back,
//! for the client and the server role. It knows nothing of JSON or of the Responses API, and has
//! no IO, no clock and no randomness of its own.
//!
//! Start with [`Connection`]; [`Config`] holds every limit and timer, and the permessage-deflate
//! settings ([`DeflateConfig`]).

mod close;
mod config;
mod connection;
mod deflate;
mod error;
mod frame;
mod handshake;
pub mod mask;
mod message;
mod reader;
pub(crate) mod rng;
mod url;
mod utf8;
mod writer;

pub use close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
pub use config::Config;
pub use connection::{Closed, Connection, Event, Role, State};
pub use deflate::{DeflateConfig, DeflateParams};
pub use error::{Error, ProtocolError, SendError};
pub use frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
pub use handshake::{accept_key, find_header, HandshakeError, Header, HttpResponse, RequestHead};
pub use message::{Message, MessageKind};
pub use url::{UrlError, WsUrl};
pub use utf8::Utf8Bytes;
