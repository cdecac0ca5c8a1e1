//! The two error types of the wire layer: [`ApiError`], an error the server reports (the `error`
//! event, a failed response, a rejected steer or inject), and [`DecodeError`], a frame this layer
//! could not read.
//!
//! `ApiError` is read leniently because servers disagree on its shape: the fields may be nested
//! under `error` or flat, the status may be `status` or `status_code`, `headers` may sit at
//! either level, and any field may be missing.

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::string::String;
use core::fmt;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::error::Category;

use super::lenient::{option_scalar_as_string, ScalarText};

/// An error reported by the server.
///
/// Decoded from any of the shapes seen on the wire:
///
/// ```
/// use responses_ws_core::wire::ApiError;
///
/// let nested: ApiError = serde_json::from_str(
///     r#"{"status":400,"error":{"type":"invalid_request_error","code":"previous_response_not_found",
///        "message":"Previous response with id 'resp_1' not found.","param":"previous_response_id"}}"#,
/// ).unwrap();
/// let flat: ApiError = serde_json::from_str(
///     r#"{"status_code":429,"code":"rate_limit_exceeded","message":"Slow down.",
///        "headers":{"retry-after":"2"}}"#,
/// ).unwrap();
///
/// assert_eq!(nested.status, Some(400));
/// assert_eq!(nested.code.as_deref(), Some("previous_response_not_found"));
/// assert_eq!(flat.status, Some(429));
/// assert_eq!(flat.headers["retry-after"], "2");
/// ```
///
/// It serialises as the `error` event's body, `{"status":…,"error":{…}}`; inside other objects
/// (a failed response, a failed steer) only the inner object is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP-equivalent status (400, 401, 429, 500, …), when the server gave one.
    pub status: Option<u16>,
    /// Error class, e.g. `invalid_request_error` or `server_error`.
    pub error_type: Option<String>,
    /// Machine-readable code, e.g. `previous_response_not_found`.
    pub code: Option<String>,
    /// Human-readable message (empty when the server sent none).
    pub message: String,
    /// The request field the error is about, e.g. `previous_response_id`.
    pub param: Option<String>,
    /// Response headers that went with the error (rate-limit headers, …).
    pub headers: BTreeMap<String, String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("API error")?;
        if let Some(status) = self.status {
            write!(f, " {status}")?;
        }
        for label in [&self.error_type, &self.code].into_iter().flatten() {
            write!(f, " {label}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl core::error::Error for ApiError {}

/// Every field an error object may carry, at one level of nesting.
#[derive(Deserialize)]
struct ErrorFields {
    #[serde(default)]
    error: Option<NestedError>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    status_code: Option<u16>,
    #[serde(default, rename = "type", deserialize_with = "option_scalar_as_string")]
    error_type: Option<String>,
    #[serde(default, deserialize_with = "option_scalar_as_string")]
    code: Option<String>,
    #[serde(default, deserialize_with = "option_scalar_as_string")]
    message: Option<String>,
    #[serde(default, deserialize_with = "option_scalar_as_string")]
    param: Option<String>,
    #[serde(default)]
    headers: Option<BTreeMap<String, ScalarText>>,
}

/// The value of an `error` field: usually an object, sometimes just the message.
#[derive(Deserialize)]
#[serde(untagged)]
enum NestedError {
    Fields(alloc::boxed::Box<ErrorFields>),
    Message(String),
}

impl ErrorFields {
    /// Folds the nested level into this one; the nested values win, headers are merged.
    fn into_api_error(self) -> ApiError {
        let mut error = ApiError {
            status: self.status.or(self.status_code),
            error_type: self.error_type,
            code: self.code,
            message: self.message.unwrap_or_default(),
            param: self.param,
            headers: headers_to_text(self.headers),
        };
        match self.error {
            Some(NestedError::Fields(nested)) => {
                let nested = nested.into_api_error();
                error.status = error.status.or(nested.status);
                error.error_type = nested.error_type.or(error.error_type);
                error.code = nested.code.or(error.code);
                if !nested.message.is_empty() {
                    error.message = nested.message;
                }
                error.param = nested.param.or(error.param);
                error.headers.extend(nested.headers);
            }
            Some(NestedError::Message(message)) if error.message.is_empty() => {
                error.message = message
            }
            Some(NestedError::Message(_)) | None => {}
        }
        error
    }
}

fn headers_to_text(headers: Option<BTreeMap<String, ScalarText>>) -> BTreeMap<String, String> {
    headers
        .unwrap_or_default()
        .into_iter()
        .map(|(name, ScalarText(value))| (name, value))
        .collect()
}

impl<'de> Deserialize<'de> for ApiError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ErrorFields::deserialize(deserializer).map(ErrorFields::into_api_error)
    }
}

/// The inner error object: `type`, `code`, `message`, `param` and, when present, `headers`.
struct ErrorBody<'e>(&'e ApiError);

impl Serialize for ErrorBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let error = self.0;
        let mut body = serializer.serialize_struct("ErrorBody", 5)?;
        if let Some(error_type) = &error.error_type {
            body.serialize_field("type", error_type)?;
        }
        body.serialize_field("code", &error.code)?;
        body.serialize_field("message", &error.message)?;
        body.serialize_field("param", &error.param)?;
        if !error.headers.is_empty() {
            body.serialize_field("headers", &error.headers)?;
        }
        body.end()
    }
}

impl Serialize for ApiError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut event = serializer.serialize_struct("ApiError", 2)?;
        if let Some(status) = self.status {
            event.serialize_field("status", &status)?;
        }
        event.serialize_field("error", &ErrorBody(self))?;
        event.end()
    }
}

/// `serialize_with` for `Option<ApiError>` fields nested in other objects: writes only the inner
/// error object (or `null`).
pub(crate) fn serialize_error_body<S: Serializer>(
    error: &Option<ApiError>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    error.as_ref().map(ErrorBody).serialize(serializer)
}

/// A frame that could not be decoded.
///
/// A frame of an unknown event type is *not* an error (it decodes to
/// [`EventKind::Unknown`](super::EventKind::Unknown)); neither are unknown fields.
#[derive(Debug)]
#[non_exhaustive]
pub enum DecodeError {
    /// The text is not a JSON document (a syntax error, or it ends early).
    Malformed(serde_json::Error),
    /// The text is JSON but not an event: not an object, or without a string `type`.
    NotAnEvent(serde_json::Error),
    /// An event of a known type whose fields do not fit its schema (a required field is
    /// missing or has the wrong JSON type).
    InvalidEvent {
        /// The event's `type`.
        event_type: String,
        /// What did not fit, with line and column.
        source: serde_json::Error,
    },
}

impl DecodeError {
    /// Classifies a JSON error; `event_type` is the type read before it happened, if any.
    pub(crate) fn from_json(source: serde_json::Error, event_type: Option<Cow<'_, str>>) -> Self {
        match (source.classify(), event_type) {
            (Category::Data, Some(event_type)) => DecodeError::InvalidEvent {
                event_type: event_type.into_owned(),
                source,
            },
            (Category::Data, None) => DecodeError::NotAnEvent(source),
            (Category::Syntax | Category::Eof | Category::Io, _) => DecodeError::Malformed(source),
        }
    }

    /// The underlying JSON error, with its line and column.
    pub fn json_error(&self) -> &serde_json::Error {
        match self {
            DecodeError::Malformed(source)
            | DecodeError::NotAnEvent(source)
            | DecodeError::InvalidEvent { source, .. } => source,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Malformed(source) => write!(f, "malformed JSON: {source}"),
            DecodeError::NotAnEvent(source) => write!(f, "not a Responses event: {source}"),
            DecodeError::InvalidEvent { event_type, source } => {
                write!(f, "invalid `{event_type}` event: {source}")
            }
        }
    }
}

impl core::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(self.json_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn parse(text: &str) -> ApiError {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn nested_shape_from_the_guide() {
        let error = parse(
            r#"{"status":400,"error":{"type":"invalid_request_error","code":"websocket_connection_limit_reached","message":"Responses websocket connection limit reached (60 minutes). Create a new websocket connection to continue."}}"#,
        );
        assert_eq!(error.status, Some(400));
        assert_eq!(error.error_type.as_deref(), Some("invalid_request_error"));
        assert_eq!(
            error.code.as_deref(),
            Some("websocket_connection_limit_reached")
        );
        assert!(error
            .message
            .starts_with("Responses websocket connection limit"));
        assert_eq!(error.param, None);
    }

    #[test]
    fn flat_shape_with_status_code_and_top_level_headers() {
        let error = parse(
            r#"{"status_code":429,"code":"usage_limit_reached","message":"limit","param":null,"headers":{"x-codex-primary-used-percent":100,"retry-after":"30"}}"#,
        );
        assert_eq!(error.status, Some(429));
        assert_eq!(error.code.as_deref(), Some("usage_limit_reached"));
        assert_eq!(error.headers["x-codex-primary-used-percent"], "100");
        assert_eq!(error.headers["retry-after"], "30");
    }

    #[test]
    fn headers_at_both_levels_are_merged_and_nested_values_win() {
        let error = parse(
            r#"{"status":429,"headers":{"a":"top","b":"top"},"error":{"type":"usage_limit_reached","message":"inner","headers":{"b":"inner"}},"message":"outer"}"#,
        );
        assert_eq!(error.headers["a"], "top");
        assert_eq!(error.headers["b"], "inner");
        assert_eq!(error.message, "inner");
        assert_eq!(error.error_type.as_deref(), Some("usage_limit_reached"));
    }

    #[test]
    fn status_may_be_nested_and_type_may_be_missing() {
        let error = parse(
            r#"{"error":{"status":400,"code":"previous_response_not_found","message":"gone"}}"#,
        );
        assert_eq!(error.status, Some(400));
        assert_eq!(error.error_type, None);
    }

    #[test]
    fn an_error_given_as_text_is_the_message() {
        let error = parse(r#"{"status":500,"error":"upstream timed out"}"#);
        assert_eq!(error.message, "upstream timed out");
    }

    #[test]
    fn numeric_codes_become_text() {
        assert_eq!(
            parse(r#"{"code":1008,"message":"x"}"#).code.as_deref(),
            Some("1008")
        );
    }

    #[test]
    fn serialises_as_the_error_event_body_and_reads_back() {
        let error = parse(
            r#"{"status":400,"error":{"type":"invalid_request_error","code":"invalid_stream_id","message":"bad","param":"stream_id"}}"#,
        );
        let json = serde_json::to_string(&error).unwrap();
        assert_eq!(
            json,
            r#"{"status":400,"error":{"type":"invalid_request_error","code":"invalid_stream_id","message":"bad","param":"stream_id"}}"#
        );
        assert_eq!(parse(&json), error);
    }

    #[test]
    fn display_names_status_type_code_and_message() {
        let error = parse(
            r#"{"status":400,"error":{"type":"invalid_request_error","code":"c","message":"m"}}"#,
        );
        assert_eq!(
            error.to_string(),
            "API error 400 invalid_request_error c: m"
        );
    }

    #[test]
    fn decode_errors_are_classified() {
        let syntax = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        assert!(matches!(
            DecodeError::from_json(syntax, None),
            DecodeError::Malformed(_)
        ));
        let data = serde_json::from_str::<u8>("\"x\"").unwrap_err();
        assert!(matches!(
            DecodeError::from_json(data, Some(Cow::Borrowed("response.created"))),
            DecodeError::InvalidEvent { ref event_type, .. } if event_type == "response.created"
        ));
    }
}
