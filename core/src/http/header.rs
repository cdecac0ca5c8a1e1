//! HTTP header fields as plain data: the [`Header`] type, lookups by name, token lists, and the
//! checks a field passes before it is written.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::HttpError;

/// One HTTP header field: the name as sent, the value as raw bytes.
///
/// `Debug` never shows the value of a credential header (`Authorization`, `Cookie`, …).
///
/// ```
/// use responses_ws_core::http::Header;
///
/// let header = Header::new("Authorization", "Bearer sk-secret");
/// assert_eq!(format!("{header:?}"), "Authorization: <redacted>");
/// assert_eq!(Header::new("Retry-After", "2").value_str(), Some("2"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name (compare with [`str::eq_ignore_ascii_case`]).
    pub name: String,
    /// Header value; usually ASCII, but HTTP allows other bytes.
    pub value: Vec<u8>,
}

/// Headers whose values are secrets.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "api-key",
    "cookie",
    "set-cookie",
];

impl Header {
    /// A header from a name and a text value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Header {
        Header {
            name: name.into(),
            value: value.into().into_bytes(),
        }
    }

    /// The value as text, if it is UTF-8.
    pub fn value_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.value).ok()
    }

    pub(crate) fn from_httparse(h: &httparse::Header<'_>) -> Header {
        Header {
            name: h.name.to_string(),
            value: h.value.to_vec(),
        }
    }

    /// Refuses a name that is not an HTTP token and a value with a control byte other than
    /// tab (a line break would inject a header).
    pub(crate) fn check(&self) -> Result<(), HttpError> {
        let token_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        let name_ok = !self.name.is_empty() && self.name.bytes().all(token_char);
        let value_ok = self
            .value
            .iter()
            .all(|&b| b == b'\t' || (b >= b' ' && b != 0x7F));
        if name_ok && value_ok {
            Ok(())
        } else {
            Err(HttpError::InvalidHeader(self.name.clone()))
        }
    }

    /// Appends `name: value\r\n`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&self.value);
        out.extend_from_slice(b"\r\n");
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = SECRET_HEADERS
            .iter()
            .any(|s| self.name.eq_ignore_ascii_case(s));
        let value = if secret {
            "<redacted>"
        } else {
            self.value_str().unwrap_or("<binary>")
        };
        write!(f, "{}: {}", self.name, value)
    }
}

/// The first header named `name` (ASCII case-insensitive), as text.
///
/// ```
/// use responses_ws_core::http::{find_header, Header};
///
/// let headers = [Header::new("Content-Type", "text/event-stream")];
/// assert_eq!(find_header(&headers, "content-type"), Some("text/event-stream"));
/// ```
pub fn find_header<'h>(headers: &'h [Header], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .and_then(Header::value_str)
}

/// Whether any header named `name` holds `token` in its comma-separated list (case-insensitive).
pub(crate) fn has_token(headers: &[Header], name: &str, token: &str) -> bool {
    tokens(headers, name).any(|t| t.eq_ignore_ascii_case(token))
}

/// The comma-separated items of every header named `name`, trimmed, empty ones skipped.
pub(crate) fn tokens<'h>(headers: &'h [Header], name: &'h str) -> impl Iterator<Item = &'h str> {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .filter_map(Header::value_str)
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The `Content-Length`, if any: every one given must be the same decimal number.
pub(crate) fn content_length(headers: &[Header]) -> Result<Option<u64>, HttpError> {
    let mut length = None;
    for value in tokens(headers, "content-length") {
        let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
        let value: u64 = value
            .parse()
            .ok()
            .filter(|_| digits)
            .ok_or(HttpError::InvalidContentLength)?;
        if length.is_some_and(|length| length != value) {
            return Err(HttpError::InvalidContentLength);
        }
        length = Some(value);
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_lengths_must_agree_and_be_numbers() {
        let cl = |v: &[&str]| {
            let headers: Vec<Header> = v
                .iter()
                .map(|v| Header::new("Content-Length", *v))
                .collect();
            content_length(&headers)
        };
        assert_eq!(cl(&[]), Ok(None));
        assert_eq!(cl(&["12"]), Ok(Some(12)));
        assert_eq!(cl(&["12", "12, 12"]), Ok(Some(12)));
        for bad in [
            &["12", "13"][..],
            &["+1"],
            &["-1"],
            &["0x1"],
            &["99999999999999999999"],
        ] {
            assert_eq!(cl(bad), Err(HttpError::InvalidContentLength), "{bad:?}");
        }
    }

    #[test]
    fn writing_refuses_injection() {
        assert!(Header::new("X-Ok", "a b\tc").check().is_ok());
        for (name, value) in [
            ("", "v"),
            ("Bad Name", "v"),
            ("X:", "v"),
            ("X", "a\r\nB: c"),
            ("X", "\0"),
        ] {
            assert_eq!(
                Header::new(name, value).check(),
                Err(HttpError::InvalidHeader(name.into()))
            );
        }
    }

    #[test]
    fn tokens_are_case_insensitive_and_comma_separated() {
        let headers = [
            Header::new("Connection", "keep-alive, Upgrade"),
            Header::new("connection", " close "),
        ];
        assert!(has_token(&headers, "CONNECTION", "upgrade"));
        assert!(has_token(&headers, "connection", "close"));
        assert!(!has_token(&headers, "connection", "keep"));
    }
}
