//! [`Reconnector`]: the adapter's memory between events for the opt-in reconnect. It watches
//! the events the core reports (a connection that opened, the session asking for a new one, a
//! connection that ended), counts failed attempts in a row and does the waiting. Which endings
//! are retried and how long to wait is decided by the core's [`ReconnectPolicy`].

use std::thread;

use responses_ws_core::client::ClientEvent;
use responses_ws_core::reconnect::ReconnectPolicy;
use responses_ws_core::ws;

use crate::random;
use crate::{ConnectError, Error};

/// Reconnect state of one [`Connection`](crate::Connection).
#[derive(Debug)]
pub(crate) struct Reconnector {
    /// `None`: reconnecting is off.
    policy: Option<ReconnectPolicy>,
    /// Attempts since the last connection that opened.
    attempts: u32,
    /// The session asked for a new connection; the close that follows is retried.
    session_asked: bool,
    /// A connection ended and another is due.
    pending: bool,
    /// The application closed the connection: nothing is retried until it opens another.
    stopped: bool,
    /// Whether the current connection got past the upgrade.
    opened: bool,
    /// Why the last attempt failed.
    last_failure: Option<ConnectError>,
    /// How the last connection ended, for when no attempt failed yet.
    last_closed: Option<ws::Error>,
}

impl Reconnector {
    pub(crate) fn new(policy: Option<ReconnectPolicy>) -> Self {
        Reconnector {
            policy,
            attempts: 0,
            session_asked: false,
            pending: false,
            stopped: false,
            opened: false,
            last_failure: None,
            last_closed: None,
        }
    }

    /// Notes what an event means for reconnecting.
    pub(crate) fn observe(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::Connected { .. } => {
                self.opened = true;
                self.attempts = 0;
                self.last_failure = None;
            }
            ClientEvent::Session(event) if ReconnectPolicy::retries_session(event) => {
                self.session_asked = true;
            }
            ClientEvent::Disconnected { closed } => {
                let wanted = self.session_asked || ReconnectPolicy::retries(closed);
                self.session_asked = false;
                self.pending = self.policy.is_some() && wanted && !self.stopped;
                if !self.opened {
                    self.last_failure = Some(ConnectError::from_closed(closed.error.clone()));
                }
                self.last_closed = closed.error.clone();
            }
            _ => {}
        }
    }

    /// Whether a new connection is due.
    pub(crate) fn is_pending(&self) -> bool {
        self.pending
    }

    /// The application closed the connection: retry nothing.
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
        self.pending = false;
        self.session_asked = false;
    }

    /// A new transport is up and its upgrade is on the way.
    pub(crate) fn started(&mut self) {
        self.stopped = false;
        self.pending = false;
        self.opened = false;
    }

    /// Opening a transport failed.
    pub(crate) fn failed(&mut self, error: ConnectError) {
        self.last_failure = Some(error);
    }

    /// Sleeps the policy's delay before the next attempt and counts it; fails when the policy
    /// gives up (and then nothing is pending any more).
    pub(crate) fn wait(&mut self) -> Result<(), Error> {
        let delay = self
            .policy
            .as_ref()
            .and_then(|policy| policy.delay(self.attempts, random::unit()));
        let Some(delay) = delay else {
            self.pending = false;
            let last = self
                .last_failure
                .take()
                .unwrap_or_else(|| ConnectError::from_closed(self.last_closed.take()));
            return Err(Error::Reconnect {
                attempts: self.attempts,
                last: Box::new(last),
            });
        };
        thread::sleep(delay);
        self.attempts += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use responses_ws_core::session::{ReconnectReason, SessionEvent};
    use responses_ws_core::ws::{CloseCode, Closed};

    fn disconnected(code: CloseCode) -> ClientEvent {
        ClientEvent::Disconnected {
            closed: Closed {
                code,
                reason: Default::default(),
                sent_code: None,
                clean: false,
                error: None,
            },
        }
    }

    fn fast_policy(max_attempts: u32) -> ReconnectPolicy {
        let mut policy = ReconnectPolicy::default();
        policy.base_delay = std::time::Duration::from_millis(1);
        policy.max_attempts = max_attempts;
        policy
    }

    #[test]
    fn only_retried_endings_make_a_reconnect_due() {
        let mut r = Reconnector::new(Some(fast_policy(3)));
        r.observe(&ClientEvent::Connected { headers: vec![] });
        r.observe(&disconnected(CloseCode::NORMAL));
        assert!(!r.is_pending());
        r.observe(&disconnected(CloseCode::ABNORMAL));
        assert!(r.is_pending());
    }

    #[test]
    fn the_session_asking_makes_the_normal_close_that_follows_retried() {
        let mut r = Reconnector::new(Some(fast_policy(3)));
        r.observe(&ClientEvent::Connected { headers: vec![] });
        r.observe(&ClientEvent::Session(SessionEvent::Reconnect {
            reason: ReconnectReason::ConnectionLimit,
        }));
        r.observe(&disconnected(CloseCode::NORMAL));
        assert!(r.is_pending());
    }

    #[test]
    fn nothing_is_retried_without_a_policy_or_after_stop() {
        let mut off = Reconnector::new(None);
        off.observe(&disconnected(CloseCode::ABNORMAL));
        assert!(!off.is_pending());

        let mut stopped = Reconnector::new(Some(fast_policy(3)));
        stopped.stop();
        stopped.observe(&disconnected(CloseCode::ABNORMAL));
        assert!(!stopped.is_pending());
    }

    #[test]
    fn the_policy_gives_up_after_max_attempts_with_the_last_failure() {
        let mut r = Reconnector::new(Some(fast_policy(2)));
        r.observe(&disconnected(CloseCode::ABNORMAL));
        r.wait().unwrap();
        r.wait().unwrap();
        match r.wait() {
            Err(Error::Reconnect { attempts: 2, last }) => {
                assert!(matches!(*last, ConnectError::Closed(_)))
            }
            other => panic!("{other:?}"),
        }
        assert!(!r.is_pending());
    }
}
