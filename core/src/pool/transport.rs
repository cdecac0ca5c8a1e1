//! [`PoolTransport`]: which transport the pool's turns take. WebSocket mode until an upgrade
//! is refused with `426` (as the clients' [`HttpFallback`](crate::client::HttpFallback) asks:
//! their `UseHttp`), then HTTP + SSE for the whole pool, sticky; after
//! [`PoolConfig::reprobe_after`](super::PoolConfig::reprobe_after) the next turn also dials
//! one WebSocket connection through the dial gate, and once its upgrade is accepted the pool
//! is back on WebSocket mode (the HTTP connections drain). A pool configured for HTTP stays
//! there and never probes. Pure bookkeeping: the pool acts on what it says.
//!
//! Invariant: `probe` is set only while on HTTP and not `fixed`, and names a connection the
//! pool dialed and has not heard the end of.

use core::time::Duration;

use super::ids::ConnId;
use crate::http_client::{Transport, TransportChoice};
use crate::time::Instant;

/// The pool's transport and its re-probe.
#[derive(Debug)]
pub(crate) struct PoolTransport {
    choice: TransportChoice,
    /// On HTTP because the configuration asks for it: for good.
    fixed: bool,
    /// The WebSocket connection dialed to try WebSocket mode again, until it answers.
    probe: Option<ConnId>,
}

impl PoolTransport {
    /// Starts on `transport`; after a fallback, WebSocket mode is tried again after
    /// `reprobe_after`.
    pub(crate) fn new(transport: Transport, reprobe_after: Duration) -> Self {
        let mut choice = TransportChoice::new(reprobe_after);
        let fixed = transport == Transport::Http;
        if fixed {
            choice.fell_back(Instant::ZERO);
        }
        PoolTransport {
            choice,
            fixed,
            probe: None,
        }
    }

    /// The transport new turns take.
    pub(crate) fn current(&self) -> Transport {
        self.choice.transport()
    }

    /// An upgrade was refused in a way that sends the pool to HTTP (a `426`), at `now`:
    /// HTTP from now on, WebSocket mode tried again after the interval.
    pub(crate) fn fell_back(&mut self, now: Instant) {
        self.choice.fell_back(now);
    }

    /// Whether a probe is due: on HTTP by fallback, the interval over, none out.
    pub(crate) fn probe_due(&self, now: Instant) -> bool {
        !self.fixed
            && self.probe.is_none()
            && self.choice.poll_timeout().is_some_and(|at| now >= at)
    }

    /// `conn` was dialed as the probe.
    pub(crate) fn probing(&mut self, conn: ConnId) {
        self.probe = Some(conn);
    }

    /// `conn`'s upgrade was accepted: whether it was the probe, and the pool is back on
    /// WebSocket mode.
    pub(crate) fn accepted(&mut self, conn: ConnId, now: Instant) -> bool {
        if self.probe != Some(conn) {
            return false;
        }
        self.probe = None;
        self.choice.switch(now, 0);
        true
    }

    /// `conn` ended before its upgrade was accepted: if it was the probe, the pool stays on
    /// HTTP for another interval.
    pub(crate) fn failed(&mut self, conn: ConnId, now: Instant) {
        if self.probe == Some(conn) {
            self.probe = None;
            self.choice.fell_back(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Instant {
        Instant::from_elapsed(Duration::from_secs(secs))
    }

    #[test]
    fn a_fallback_is_sticky_until_a_probe_is_accepted() {
        let mut transport = PoolTransport::new(Transport::WebSocket, Duration::from_secs(60));
        assert_eq!(transport.current(), Transport::WebSocket);
        assert!(
            !transport.probe_due(at(1_000)),
            "nothing to probe on WebSocket mode"
        );
        transport.fell_back(at(10));
        assert_eq!(transport.current(), Transport::Http);
        assert!(!transport.probe_due(at(69)));
        assert!(transport.probe_due(at(70)));
        transport.probing(ConnId(3));
        assert!(!transport.probe_due(at(80)), "one probe at a time");
        assert!(!transport.accepted(ConnId(4), at(80)), "not the probe");
        transport.failed(ConnId(3), at(90));
        assert_eq!(transport.current(), Transport::Http);
        assert!(!transport.probe_due(at(149)), "another interval");
        assert!(transport.probe_due(at(150)));
        transport.probing(ConnId(5));
        assert!(transport.accepted(ConnId(5), at(151)));
        assert_eq!(transport.current(), Transport::WebSocket);
    }

    #[test]
    fn http_by_configuration_is_never_probed() {
        let transport = PoolTransport::new(Transport::Http, Duration::ZERO);
        assert_eq!(transport.current(), Transport::Http);
        assert!(!transport.probe_due(at(1_000_000)));
    }
}
