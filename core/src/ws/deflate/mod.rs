//! permessage-deflate (RFC 7692): the settings ([`DeflateConfig`]), the parameters both ends
//! agreed on ([`DeflateParams`]), the negotiation in the opening handshake (`negotiate`) and,
//! with the `deflate` feature, the codec (`codec`) and when a quiet connection frees it
//! (`idle`).
//!
//! Without the `deflate` feature the client offers nothing and the server declines every offer,
//! so a compressed frame is a protocol error as in plain RFC 6455.

use core::time::Duration;

#[cfg(feature = "deflate")]
pub(crate) mod codec;
#[cfg(feature = "deflate")]
pub(crate) mod idle;
pub(crate) mod negotiate;

/// permessage-deflate settings, in [`Config::deflate`](super::Config::deflate).
///
/// The parameters carry RFC 7692's names and meanings in both roles: a client *asks* for them
/// in its offer, a server *imposes* them in its answer.
///
/// ```
/// use responses_ws_core::ws::{Config, DeflateConfig};
///
/// let mut config = Config::default();
/// assert_eq!(config.deflate.enabled, cfg!(feature = "deflate"));
/// // Keep no compression state between messages on either side: less memory, larger frames.
/// config.deflate.server_no_context_takeover = true;
/// config.deflate.client_no_context_takeover = true;
/// // Give the compression state back after one second without a message (default 5 s).
/// config.deflate.release_after = Some(core::time::Duration::from_secs(1));
/// // Or switch compression off.
/// config.deflate = DeflateConfig::disabled();
/// assert!(!config.deflate.enabled);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Client: offer permessage-deflate. Server: accept an offer. Default: on when the crate's
    /// `deflate` feature is (`std` turns it on); without the feature it has no effect.
    pub enabled: bool,
    /// The client's LZ77 window, 8 to 15 bits. Client: `Some(15)` (the default) offers
    /// `client_max_window_bits` without a value, so a server may ask for a smaller window;
    /// `Some(n)` with `n < 15` promises at most `n`; `None` leaves the parameter out.
    /// Server: the largest window it lets a client use, when the client's offer allows a limit.
    pub client_max_window_bits: Option<u8>,
    /// The server's LZ77 window, 8 to 15 bits: what the client keeps of the server's context
    /// between messages (the last `2^n` bytes received), so its memory per idle connection.
    /// Client: `Some(n)` with `n < 15` (the default is 12) asks
    /// for at most `n`, with a second offer without the limit after it, so that a server that
    /// does not limit its window still compresses; `Some(15)` or `None` asks nothing.
    /// Server: the largest window it compresses with when a client asks for a limit (the
    /// answer names the smaller of the two); a client that asks nothing gets the full window.
    ///
    /// Why 12 by default (BENCHMARKS.md, "permessage-deflate on an event stream"): the events
    /// of a turn repeat what came a few hundred bytes before them far more than what came
    /// 32 KiB before, so a 4 KiB window keeps almost all the ratio of a 32 KiB one, and an
    /// idle connection keeps 4 KiB for it instead of 32.
    pub server_max_window_bits: Option<u8>,
    /// The client starts every message with an empty window. Default `false`: keeping the
    /// window is what makes the small, similar events of this protocol compress well.
    pub client_no_context_takeover: bool,
    /// The server starts every message with an empty window. Default `false`.
    pub server_no_context_takeover: bool,
    /// Compression level of the messages we send, zlib's 0 (stored, no compression) to 9: how
    /// hard the compressor searches for matches. Default 1, zlib-rs's fast path (fixed Huffman
    /// codes, one probe per position): with the window kept from message to message, most of
    /// an event is found at once (BENCHMARKS.md). A server's level above 9 is taken as 9.
    pub level: u8,
    /// How long a quiet connection keeps its compression state: once no data message has
    /// been sent or received for this long, the compressor (about 270 KiB with a 15-bit
    /// window) and the inflater's state (about 40 KiB) are given back at the connection's
    /// next timeout ([`Connection::poll_timeout`](super::Connection::poll_timeout)), and
    /// built again at the next message; the inflater keeps the peer's window of history, as
    /// its context requires. `None` keeps them for the connection's life. A `Client` uses
    /// it when its driver runs its timers all the time (the pool's:
    /// `ClientConfig::codec_release`); otherwise it frees them when its session goes idle.
    ///
    /// Default 5 s: a connection that carries turns keeps its state from one to the next (a
    /// tool call answered within seconds included), so nothing is freed and rebuilt per
    /// turn, while a connection that waits for longer holds only its history.
    pub release_after: Option<Duration>,
    /// Whole messages shorter than this many bytes are sent as they are, not compressed (RFC
    /// 7692 lets a sender choose per message; the peer's window is not touched by them). A
    /// connection that sends only short messages never builds a compressor (about 270 KiB).
    /// Default 0: every message is compressed. The pool's connections use at least 1 KiB:
    /// their requests chain with `previous_response_id` and carry only the new input, a few
    /// hundred bytes that gain little, while a full-context replay is long and compressed.
    pub min_compress_len: usize,
}

impl DeflateConfig {
    /// Whether to offer (client) or accept (server): enabled, and the codec is built in.
    pub(crate) fn active(&self) -> bool {
        self.enabled && cfg!(feature = "deflate")
    }

    /// permessage-deflate switched off: nothing is offered or accepted.
    pub fn disabled() -> DeflateConfig {
        DeflateConfig {
            enabled: false,
            ..DeflateConfig::default()
        }
    }
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            enabled: cfg!(feature = "deflate"),
            client_max_window_bits: Some(15),
            server_max_window_bits: Some(12),
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            level: 1,
            release_after: Some(Duration::from_secs(5)),
            min_compress_len: 0,
        }
    }
}

/// The permessage-deflate parameters both ends agreed on in the handshake
/// ([`Connection::deflate`](super::Connection::deflate)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DeflateParams {
    /// The server compresses every message with an empty window.
    pub server_no_context_takeover: bool,
    /// The client compresses every message with an empty window.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window, in bits.
    pub server_max_window_bits: u8,
    /// The client's LZ77 window, in bits.
    pub client_max_window_bits: u8,
}
