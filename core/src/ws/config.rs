//! Connection settings: every limit and timer of the WebSocket layer, each with a default.

use super::deflate::DeflateConfig;
use core::time::Duration;

/// Limits and timers of a WebSocket connection. Start from [`Config::default`] and change fields.
///
/// ```
/// use core::time::Duration;
/// use responses_ws_core::ws::Config;
///
/// let mut config = Config::default();
/// config.max_message_size = 8 << 20;
/// config.keepalive_interval = Some(Duration::from_secs(20));
/// assert_eq!(config.max_frame_payload, 16 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest payload of one received frame. Default 16 MiB. Exceeded: close 1009.
    pub max_frame_payload: usize,
    /// Largest received message, all fragments together. Default 64 MiB (a `response.completed`
    /// can carry a whole long output). Exceeded: close 1009, without buffering the excess.
    pub max_message_size: usize,
    /// Bytes that may wait in the outbound queue before sends are refused with
    /// [`SendError::QueueFull`](super::SendError::QueueFull). Default 16 MiB. A single message
    /// larger than this is still accepted when the queue is empty.
    pub max_outbound_queue: usize,
    /// Largest HTTP head of the handshake. Default 16 KiB.
    pub max_handshake_head: usize,
    /// Most headers in the handshake. Default 64.
    pub max_handshake_headers: usize,
    /// Largest body kept from a refused upgrade (401, 429 …). Default 64 KiB.
    pub max_refusal_body: usize,
    /// Answer pings with pongs automatically. Default `true`.
    pub auto_pong: bool,
    /// Time allowed for the opening handshake. Default 15 s; `None` waits forever.
    pub handshake_timeout: Option<Duration>,
    /// Send a ping after this long without receiving anything. Default 30 s; `None` disables
    /// keepalive.
    pub keepalive_interval: Option<Duration>,
    /// After a keepalive ping, the peer is declared dead if nothing arrives within this time.
    /// Default 15 s.
    pub pong_timeout: Duration,
    /// Time the peer has to answer our close frame. Default 5 s.
    pub close_timeout: Duration,
    /// permessage-deflate (RFC 7692): offered by a client and accepted by a server by default
    /// (with the crate's `deflate` feature). A compressed message is bounded by
    /// `max_message_size` once decompressed.
    pub deflate: DeflateConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_payload: 16 << 20,
            max_message_size: 64 << 20,
            max_outbound_queue: 16 << 20,
            max_handshake_head: 16 << 10,
            max_handshake_headers: 64,
            max_refusal_body: 64 << 10,
            auto_pong: true,
            handshake_timeout: Some(Duration::from_secs(15)),
            keepalive_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(15),
            close_timeout: Duration::from_secs(5),
            deflate: DeflateConfig::default(),
        }
    }
}
