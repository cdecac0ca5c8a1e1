//! Every bound of the HTTP layer in one place, each with its default.

/// The bounds the HTTP layer enforces. Exceeding one gives a typed [`HttpError`](super::HttpError);
/// nothing in this layer grows without one of these.
///
/// ```
/// use responses_ws_core::http::Limits;
///
/// let mut limits = Limits::default();
/// assert_eq!(limits.max_head, 16 << 10);
/// limits.max_sse_event = 1 << 20;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest request or response head (start line, headers, blank line). Default 16 KiB.
    pub max_head: usize,
    /// Most headers in one head. Default 64.
    pub max_headers: usize,
    /// Largest decoded body, whatever its framing. Default 64 MiB.
    pub max_body: u64,
    /// Longest chunk-size line, extensions included. Default 1 KiB.
    pub max_chunk_line: usize,
    /// Largest trailer section after the last chunk. Default 8 KiB.
    pub max_trailers: usize,
    /// Largest server-sent event: its pending line, `event:` type and `data:` lines together.
    /// Default 16 MiB (a `response.completed` event carries the whole response).
    pub max_sse_event: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 16 << 10,
            max_headers: 64,
            max_body: 64 << 20,
            max_chunk_line: 1 << 10,
            max_trailers: 8 << 10,
            max_sse_event: 16 << 20,
        }
    }
}
