//! The `POST /v1/responses` of an exchange: a create request as an HTTP/1.1 request asking
//! for a stream.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::Value;

use super::ExchangeError;
use crate::http::{Header, RequestHead};
use crate::wire::ResponseCreate;

/// Where and how the create request goes: the `Host`, the path, and the caller's headers
/// (`Authorization`, `OpenAI-Beta`, …; their values never show in `Debug`).
///
/// ```
/// use responses_ws_core::http::{Header, Target};
///
/// let target = Target::new("api.openai.com", "/v1/responses")
///     .with_header(Header::new("Authorization", "Bearer sk-secret"));
/// assert!(!format!("{target:?}").contains("sk-secret"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The `Host` header: host, and port unless it is the scheme's default.
    pub host: String,
    /// The request target, such as `/v1/responses`.
    pub path: String,
    /// Headers sent with every request.
    pub headers: Vec<Header>,
}

impl Target {
    /// A target without extra headers.
    pub fn new(host: impl Into<String>, path: impl Into<String>) -> Self {
        Target {
            host: host.into(),
            path: path.into(),
            headers: Vec::new(),
        }
    }

    /// Adds a header to every request.
    pub fn with_header(mut self, header: Header) -> Self {
        self.headers.push(header);
        self
    }
}

/// The whole request for `create`: head and JSON body with `stream: true`. The lane
/// (`stream_id`) is dropped, since over HTTP every request is its own lane; `generate` has no
/// HTTP form and is refused.
pub(crate) fn write(target: &Target, create: &ResponseCreate) -> Result<Vec<u8>, ExchangeError> {
    if create.generate.is_some() {
        return Err(ExchangeError::WebSocketOnly("generate"));
    }
    let mut body = match serde_json::to_value(create) {
        Ok(Value::Object(body)) => body,
        // A create request always serialises as an object.
        _ => serde_json::Map::new(),
    };
    body.remove("stream_id");
    body.insert("stream".into(), Value::Bool(true));
    let body = Value::Object(body).to_string();
    let mut head = RequestHead::new("POST", target.path.as_str())
        .with_header("Host", target.host.as_str())
        .with_header("Content-Type", "application/json")
        .with_header("Accept", "text/event-stream")
        .with_header("Content-Length", alloc::format!("{}", body.len()));
    head.headers.extend(target.headers.iter().cloned());
    let mut out = Vec::with_capacity(256 + body.len());
    head.write(&mut out)?;
    out.extend_from_slice(body.as_bytes());
    Ok(out)
}
