//! The answer to a WebSocket upgrade request: accept it, or refuse it as the script's
//! [`UpgradeFault`](super::UpgradeFault) says (401, 429 or 503 with `Retry-After`, 426), or
//! leave it unanswered.

use alloc::format;
use alloc::string::ToString;

use super::errors::{self, api_error, Rejection};
use super::faults::{on_connection, Refusal};
use super::http::HttpAnswer;
use super::script::Script;
use crate::ws::Header;

/// How to answer an upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Upgrade {
    /// Answer `101 Switching Protocols` and serve a [`MockConnection`](super::MockConnection).
    Accept,
    /// Answer with this status, headers and JSON body, then close the transport.
    Refuse(HttpAnswer),
    /// Answer nothing and keep the transport open until the client leaves.
    Ignore,
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
    ///
    /// // A storm that passes: the first two connections are refused.
    /// let storm = Script::new().with_upgrade_refusal(
    ///     UpgradeFault::new(Refusal::ServiceUnavailable { retry_after_secs: 1 }).first(2),
    /// );
    /// assert!(matches!(storm.upgrade(1), Upgrade::Refuse(answer) if answer.status == 503));
    /// assert_eq!(storm.upgrade(2), Upgrade::Accept);
    /// ```
    pub fn upgrade(&self, connection_index: u32) -> Upgrade {
        match &self.faults.refuse_upgrade {
            Some(fault)
                if on_connection(fault.connection, connection_index)
                    && fault.first.is_none_or(|count| connection_index < count) =>
            {
                refusal_answer(&fault.refusal).map_or(Upgrade::Ignore, Upgrade::Refuse)
            }
            _ => Upgrade::Accept,
        }
    }

    /// How to answer the upgrade request of connection `connection_index` that carries
    /// `headers`: as [`upgrade`](Self::upgrade) says, unless it carries the
    /// [revoked API key](super::Faults::revoked_api_key) (then `401`).
    ///
    /// ```
    /// use responses_ws_core::mock::{Script, Upgrade};
    /// use responses_ws_core::ws::Header;
    ///
    /// let script = Script::new().with_revoked_api_key("sk-old");
    /// let old = [Header::new("Authorization", "Bearer sk-old")];
    /// assert!(matches!(script.upgrade_request(0, &old), Upgrade::Refuse(answer) if answer.status == 401));
    /// let new = [Header::new("Authorization", "Bearer sk-new")];
    /// assert_eq!(script.upgrade_request(0, &new), Upgrade::Accept);
    /// ```
    pub fn upgrade_request(&self, connection_index: u32, headers: &[Header]) -> Upgrade {
        if self.refuses_key(headers) {
            return Upgrade::Refuse(unauthorized());
        }
        self.upgrade(connection_index)
    }

    /// Whether `headers` carry the revoked API key.
    fn refuses_key(&self, headers: &[Header]) -> bool {
        (self.faults.revoked_api_key.as_deref()).is_some_and(|key| carries_key(headers, key))
    }
}

/// Whether `headers` carry `Authorization: Bearer <key>`.
pub(crate) fn carries_key(headers: &[Header], key: &str) -> bool {
    headers
        .iter()
        .filter(|header| header.name.eq_ignore_ascii_case("authorization"))
        .filter_map(Header::value_str)
        .any(|value| value.strip_prefix("Bearer ") == Some(key))
}

/// The HTTP answer of a refusal; `None` for [`Refusal::NoAnswer`].
fn refusal_answer(refusal: &Refusal) -> Option<HttpAnswer> {
    Some(match refusal {
        Refusal::Unauthorized => unauthorized(),
        Refusal::RateLimited { retry_after_secs } => with_retry_after(
            api_error(
                429,
                "requests",
                Some("rate_limit_exceeded"),
                format!("Rate limit reached. Please try again in {retry_after_secs}s."),
                None,
            ),
            *retry_after_secs,
        ),
        Refusal::ServiceUnavailable { retry_after_secs } => with_retry_after(
            api_error(
                503,
                "server_error",
                Some("service_unavailable"),
                "The server is overloaded; try again later.".into(),
                None,
            ),
            *retry_after_secs,
        ),
        Refusal::UpgradeRequired => HttpAnswer::error(&api_error(
            426,
            "invalid_request_error",
            Some("upgrade_required"),
            "WebSocket mode is not available on this server; use HTTP.".into(),
            None,
        )),
        Refusal::NoAnswer => return None,
    })
}

/// `401 invalid_api_key`.
fn unauthorized() -> HttpAnswer {
    HttpAnswer::error(&errors::unauthorized())
}

/// The error answer with a `Retry-After` of `secs`.
fn with_retry_after(error: Rejection, secs: u64) -> HttpAnswer {
    let mut answer = HttpAnswer::error(&error);
    answer
        .headers
        .push(("retry-after".into(), secs.to_string()));
    answer
}
