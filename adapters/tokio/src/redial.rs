//! [`Redial`]: the bookkeeping of the opt-in reconnect. It watches the events going by, asks
//! the core's [`ReconnectPolicy`] whether and how soon to connect again, and counts attempts.
//! It decides nothing itself.

use std::time::Duration;

use responses_ws_core::client::ClientEvent;
use responses_ws_core::reconnect::ReconnectPolicy;
use responses_ws_core::session::SessionEvent;

use crate::entropy;

/// Reconnect state of one connection.
#[derive(Debug)]
pub(crate) struct Redial {
    policy: Option<ReconnectPolicy>,
    /// On once the first connection opened, off after `close`.
    armed: bool,
    /// Attempts since the last connection that opened.
    attempts: u32,
    /// The session asked for a new connection: the coming `Disconnected` is retried
    /// whatever its close code (our own close 1000, most likely).
    session_asked: bool,
    /// A reconnect is due, after this delay.
    due: Option<Duration>,
}

impl Redial {
    /// Bookkeeping for `policy` (`None`: never reconnect).
    pub(crate) fn new(policy: Option<ReconnectPolicy>) -> Self {
        Redial {
            policy,
            armed: false,
            attempts: 0,
            session_asked: false,
            due: None,
        }
    }

    /// The first connection is open: from now on, endings may be retried.
    pub(crate) fn arm(&mut self) {
        self.armed = true;
    }

    /// The application closes (or replaces the connection itself): nothing is retried any
    /// more, and a request of the session for a new connection is spent.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
        self.due = None;
        self.session_asked = false;
    }

    /// Attempts made in a row.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Watches an event on its way to the application.
    pub(crate) fn observe(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::Connected { .. } => self.attempts = 0,
            ClientEvent::Session(event @ SessionEvent::Reconnect { .. }) => {
                self.session_asked |= ReconnectPolicy::retries_session(event);
            }
            ClientEvent::Disconnected { closed } => {
                let asked = std::mem::take(&mut self.session_asked);
                if asked || ReconnectPolicy::retries(closed) {
                    self.due = self.next_delay();
                }
            }
            _ => {}
        }
    }

    /// An attempt failed before the upgrade (TCP or TLS): the delay before the next one, or
    /// `None` when the policy gives up.
    pub(crate) fn after_failure(&mut self) -> Option<Duration> {
        self.next_delay()
    }

    /// The reconnect that is due, if any (taken).
    pub(crate) fn take_due(&mut self) -> Option<Duration> {
        self.due.take()
    }

    fn next_delay(&mut self) -> Option<Duration> {
        let policy = self.policy.as_ref().filter(|_| self.armed)?;
        let delay = policy.delay(self.attempts, entropy::unit())?;
        self.attempts += 1;
        Some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use responses_ws_core::ws::{CloseCode, Closed};

    fn disconnected(code: u16) -> ClientEvent {
        ClientEvent::Disconnected {
            closed: Closed {
                code: CloseCode(code),
                reason: Default::default(),
                sent_code: None,
                clean: false,
                error: None,
            },
        }
    }

    fn policy() -> ReconnectPolicy {
        let mut policy = ReconnectPolicy::default();
        policy.max_attempts = 2;
        policy
    }

    #[test]
    fn only_retried_endings_of_an_armed_connection_are_due() {
        let mut redial = Redial::new(Some(policy()));
        redial.observe(&disconnected(1006));
        assert_eq!(
            redial.take_due(),
            None,
            "not armed before the first connection"
        );
        redial.arm();
        redial.observe(&disconnected(1000));
        assert_eq!(redial.take_due(), None, "a normal close is final");
        redial.observe(&disconnected(1006));
        let delay = redial.take_due().unwrap();
        assert!((250..=500).contains(&delay.as_millis()), "{delay:?}");
        assert_eq!(redial.attempts(), 1);
        assert!(redial.after_failure().is_some());
        assert_eq!(redial.after_failure(), None, "max_attempts reached");
        redial.observe(&ClientEvent::Connected {
            headers: Vec::new(),
        });
        assert_eq!(redial.attempts(), 0);
        redial.disarm();
        redial.observe(&disconnected(1006));
        assert_eq!(redial.take_due(), None, "closed by the application");
    }

    #[test]
    fn a_session_request_makes_even_a_normal_close_due() {
        use responses_ws_core::session::ReconnectReason;
        let mut redial = Redial::new(Some(policy()));
        redial.arm();
        redial.observe(&ClientEvent::Session(SessionEvent::Reconnect {
            reason: ReconnectReason::Rotation,
        }));
        redial.observe(&disconnected(1000));
        assert!(redial.take_due().is_some());
        redial.observe(&disconnected(1000));
        assert_eq!(redial.take_due(), None, "the request was used up");
    }

    #[test]
    fn without_a_policy_nothing_is_retried() {
        let mut redial = Redial::new(None);
        redial.arm();
        redial.observe(&disconnected(1006));
        assert_eq!(redial.take_due(), None);
    }
}
