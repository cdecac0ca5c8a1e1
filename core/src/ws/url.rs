//! WebSocket URLs (`ws://` and `wss://`): scheme, host (names, IPv4, bracketed IPv6 literals),
//! optional port, path and query — what the client handshake and a TCP connect need.

use alloc::string::{String, ToString};
use core::fmt;

/// A parsed `ws://` or `wss://` URL.
///
/// ```
/// use responses_ws_core::ws::WsUrl;
///
/// let url = WsUrl::parse("wss://api.openai.com/v1/responses").unwrap();
/// assert!(url.is_secure());
/// assert_eq!((url.host(), url.port()), ("api.openai.com", 443));
/// assert_eq!(url.resource(), "/v1/responses");
///
/// let local = WsUrl::parse("ws://[::1]:8080/?q=1").unwrap();
/// assert_eq!((local.host(), local.port(), local.host_header().as_str()), ("::1", 8080, "[::1]:8080"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    secure: bool,
    host: String,
    port: u16,
    explicit_port: bool,
    resource: String,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not `ws` or `wss`.
    UnsupportedScheme(String),
    /// No `scheme://` prefix.
    MissingScheme,
    /// The host is empty or holds characters a host cannot.
    InvalidHost,
    /// The port is not a number from 1 to 65535.
    InvalidPort,
    /// User information (`user:pass@`) is not allowed in a WebSocket URL.
    UserInfo,
    /// A fragment (`#...`) is not allowed in a WebSocket URL (RFC 6455 §3).
    Fragment,
    /// The path or query holds whitespace or control characters.
    InvalidResource,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::UnsupportedScheme(s) => {
                write!(f, "unsupported scheme {s:?} (expected ws or wss)")
            }
            UrlError::MissingScheme => f.write_str("missing scheme (expected ws:// or wss://)"),
            UrlError::InvalidHost => f.write_str("invalid host"),
            UrlError::InvalidPort => f.write_str("invalid port"),
            UrlError::UserInfo => f.write_str("user information is not allowed in a WebSocket URL"),
            UrlError::Fragment => f.write_str("a fragment is not allowed in a WebSocket URL"),
            UrlError::InvalidResource => {
                f.write_str("path or query holds whitespace or control characters")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UrlError {}

impl WsUrl {
    /// Parses a `ws://` or `wss://` URL.
    pub fn parse(url: &str) -> Result<WsUrl, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::MissingScheme)?;
        let secure = if scheme.eq_ignore_ascii_case("wss") {
            true
        } else if scheme.eq_ignore_ascii_case("ws") {
            false
        } else {
            return Err(UrlError::UnsupportedScheme(scheme.to_string()));
        };
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(split);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        if resource.bytes().any(|b| b <= b' ' || b == 0x7F) {
            return Err(UrlError::InvalidResource);
        }
        let (host, port) = split_host_port(authority)?;
        let default_port = if secure { 443 } else { 80 };
        let resource = match resource {
            "" => "/".to_string(),
            r if r.starts_with('?') => alloc::format!("/{r}"),
            r => r.to_string(),
        };
        Ok(WsUrl {
            secure,
            host: host.to_string(),
            port: port.unwrap_or(default_port),
            explicit_port: port.is_some(),
            resource,
        })
    }

    /// Whether the scheme is `wss` (TLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host without brackets: a name, an IPv4 address or an IPv6 address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default (80 or 443).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path and query sent in the request line (`/` when the URL has none).
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The `Host` header value: brackets around IPv6 literals, the port when it was explicit.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            alloc::format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.explicit_port {
            alloc::format!("{host}:{}", self.port)
        } else {
            host
        }
    }
}

/// Splits `host[:port]` or `[v6]:port`.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), UrlError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or(UrlError::InvalidHost)?;
        if v6.is_empty()
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(UrlError::InvalidHost);
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(UrlError::InvalidHost)?),
        };
        (v6, port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let host_char =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'%');
        if host.is_empty() || !host.bytes().all(host_char) {
            return Err(UrlError::InvalidHost);
        }
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(UrlError::InvalidPort),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_shapes() {
        let u = WsUrl::parse("ws://localhost:9001/runCase?case=1&agent=x").unwrap();
        assert_eq!(
            (u.is_secure(), u.host(), u.port(), u.resource()),
            (false, "localhost", 9001, "/runCase?case=1&agent=x")
        );
        assert_eq!(u.host_header(), "localhost:9001");
        let u = WsUrl::parse("WSS://Example.com").unwrap();
        assert_eq!(
            (
                u.is_secure(),
                u.port(),
                u.resource(),
                u.host_header().as_str()
            ),
            (true, 443, "/", "Example.com")
        );
        let u = WsUrl::parse("ws://127.0.0.1?x=1").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.resource()),
            ("127.0.0.1", 80, "/?x=1")
        );
        let u = WsUrl::parse("ws://[::1]/").unwrap();
        assert_eq!((u.host(), u.host_header().as_str()), ("::1", "[::1]"));
    }

    #[test]
    fn refuses_what_a_websocket_url_cannot_be() {
        assert_eq!(
            WsUrl::parse("http://x/"),
            Err(UrlError::UnsupportedScheme("http".into()))
        );
        assert_eq!(WsUrl::parse("localhost:80"), Err(UrlError::MissingScheme));
        assert_eq!(WsUrl::parse("ws://x/#frag"), Err(UrlError::Fragment));
        assert_eq!(WsUrl::parse("ws://u:p@x/"), Err(UrlError::UserInfo));
        assert_eq!(WsUrl::parse("ws:///path"), Err(UrlError::InvalidHost));
        assert_eq!(WsUrl::parse("ws://x:0/"), Err(UrlError::InvalidPort));
        assert_eq!(WsUrl::parse("ws://x:70000/"), Err(UrlError::InvalidPort));
        assert_eq!(WsUrl::parse("ws://x:+80/"), Err(UrlError::InvalidPort));
        assert_eq!(WsUrl::parse("ws://[::1/"), Err(UrlError::InvalidHost));
        assert_eq!(WsUrl::parse("ws://x/a b"), Err(UrlError::InvalidResource));
        assert_eq!(
            WsUrl::parse("ws://x\r\nEvil: 1/"),
            Err(UrlError::InvalidHost)
        );
    }
}
