//! The answer to a WebSocket upgrade request: accept it, or refuse it as the script's
//! [`UpgradeFault`](super::UpgradeFault) says (401, 429 with `Retry-After`, 426).

use alloc::format;
use alloc::string::ToString;

use super::errors::api_error;
use super::faults::{on_connection, Refusal};
use super::http::HttpAnswer;
use super::script::Script;

/// How to answer an upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Upgrade {
    /// Answer `101 Switching Protocols` and serve a [`MockConnection`](super::MockConnection).
    Accept,
    /// Answer with this status, headers and JSON body, then close the transport.
    Refuse(HttpAnswer),
}

impl Script {
    /// How to answer the upgrade request of connection `connection_index`. Pure: the driver
    /// calls it before accepting (e.g. `ws::Connection::accept` or `reject`).
    ///
    /// ```
    /// use responses_ws_core::mock::{Refusal, Script, Upgrade, UpgradeFault};
    ///
    /// let script = Script::new().with_upgrade_refusal(
    ///     UpgradeFault::new(Refusal::RateLimited { retry_after_secs: 2 }).on_connection(0),
    /// );
    ///
    /// let Upgrade::Refuse(answer) = script.upgrade(0) else { panic!("accepted") };
    /// assert_eq!(answer.status, 429);
    /// assert!(answer.headers.contains(&("retry-after".into(), "2".into())));
    /// assert!(answer.body.contains(r#""code":"rate_limit_exceeded""#));
    /// assert_eq!(script.upgrade(1), Upgrade::Accept);
    /// ```
    pub fn upgrade(&self, connection_index: u32) -> Upgrade {
        match &self.faults.refuse_upgrade {
            Some(fault) if on_connection(fault.connection, connection_index) => {
                Upgrade::Refuse(refusal_answer(&fault.refusal))
            }
            _ => Upgrade::Accept,
        }
    }
}

fn refusal_answer(refusal: &Refusal) -> HttpAnswer {
    match refusal {
        Refusal::Unauthorized => HttpAnswer::error(&api_error(
            401,
            "invalid_request_error",
            Some("invalid_api_key"),
            "Incorrect API key provided.".into(),
            None,
        )),
        Refusal::RateLimited { retry_after_secs } => {
            let error = api_error(
                429,
                "requests",
                Some("rate_limit_exceeded"),
                format!("Rate limit reached. Please try again in {retry_after_secs}s."),
                None,
            );
            let mut answer = HttpAnswer::error(&error);
            answer
                .headers
                .push(("retry-after".into(), retry_after_secs.to_string()));
            answer
        }
        Refusal::UpgradeRequired => HttpAnswer::error(&api_error(
            426,
            "invalid_request_error",
            Some("upgrade_required"),
            "WebSocket mode is not available on this server; use HTTP.".into(),
            None,
        )),
    }
}
