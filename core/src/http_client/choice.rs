//! [`TransportChoice`]: which transport a conversation uses — WebSocket mode, or HTTP + SSE
//! once the client fell back ([`ClientEvent::UseHttp`](crate::client::ClientEvent::UseHttp)).
//! The fallback is sticky, as codex's is, but not for ever: after `reprobe_after` (and only
//! with no request in flight, so that moving the session interrupts nothing) WebSocket mode
//! is tried again; another fallback starts another interval.

use core::time::Duration;

use crate::time::Instant;

/// A transport of the Responses API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// WebSocket mode: [`Client`](crate::client::Client).
    WebSocket,
    /// HTTP + SSE: [`HttpClient`](super::HttpClient).
    Http,
}

/// Decides when a conversation moves between transports.
///
/// The contract for an adapter: run a [`Client`](crate::client::Client) while
/// [`transport`](Self::transport) is [`Transport::WebSocket`]. On
/// [`ClientEvent::UseHttp`](crate::client::ClientEvent::UseHttp), call
/// [`fell_back`](Self::fell_back) and move the session with
/// [`Client::into_session`](crate::client::Client::into_session) and
/// [`HttpClient::from_session`](super::HttpClient::from_session). While on HTTP, call
/// [`switch`](Self::switch) after each step (at [`poll_timeout`](Self::poll_timeout) at the
/// latest) with the session's in-flight count; when it says [`Transport::WebSocket`], move
/// the session back with [`HttpClient::into_session`](super::HttpClient::into_session) and
/// [`Client::from_session`](crate::client::Client::from_session), and connect.
///
/// ```
/// use core::time::Duration;
/// use responses_ws_core::http_client::{Transport, TransportChoice};
/// use responses_ws_core::Instant;
///
/// let mut choice = TransportChoice::new(Duration::from_secs(600));
/// assert_eq!(choice.transport(), Transport::WebSocket);
/// choice.fell_back(Instant::ZERO); // the upgrade was refused with 426
/// assert_eq!(choice.transport(), Transport::Http);
/// let later = Instant::ZERO + Duration::from_secs(600);
/// assert_eq!(choice.switch(later, 1), None, "a request is in flight: not now");
/// assert_eq!(choice.switch(later, 0), Some(Transport::WebSocket));
/// assert_eq!(choice.transport(), Transport::WebSocket);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportChoice {
    reprobe_after: Duration,
    /// Since the last fallback, while on HTTP.
    on_http_since: Option<Instant>,
}

impl TransportChoice {
    /// Starts on WebSocket mode; after a fallback, tries it again after `reprobe_after`.
    pub fn new(reprobe_after: Duration) -> Self {
        TransportChoice {
            reprobe_after,
            on_http_since: None,
        }
    }

    /// The transport to run now.
    pub fn transport(&self) -> Transport {
        match self.on_http_since {
            Some(_) => Transport::Http,
            None => Transport::WebSocket,
        }
    }

    /// The client fell back to HTTP at `now` (a 426, or a spent budget).
    pub fn fell_back(&mut self, now: Instant) {
        self.on_http_since = Some(now);
    }

    /// When WebSocket mode is due to be tried again, while on HTTP.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.on_http_since.map(|since| since + self.reprobe_after)
    }

    /// The transport to move to now, if any: WebSocket mode once the interval is over and
    /// no request is in flight (`in_flight`, from the session).
    pub fn switch(&mut self, now: Instant, in_flight: usize) -> Option<Transport> {
        let due = self.poll_timeout().is_some_and(|at| now >= at);
        if due && in_flight == 0 {
            self.on_http_since = None;
            return Some(Transport::WebSocket);
        }
        None
    }
}

impl Default for TransportChoice {
    /// Re-probes after 15 minutes.
    fn default() -> Self {
        TransportChoice::new(Duration::from_secs(15 * 60))
    }
}
