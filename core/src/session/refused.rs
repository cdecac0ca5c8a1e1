//! [`Refused`]: a call the session did not take, handed back whole with the reason, so that a
//! caller who waits and tries again loses nothing.

use alloc::boxed::Box;
use core::fmt;

use super::SessionError;

/// A request (a [`ResponseCreate`](crate::wire::ResponseCreate) or a steer's
/// [`Input`](crate::wire::Input)) that the session refused, with why. Nothing of it was
/// queued: [`into_request`](Self::into_request) gives it back to be sent again, for instance
/// after [`SessionError::Backpressure`] once some bytes were written.
///
/// It converts into its [`SessionError`] (so `?` works in functions returning one) and
/// compares with one.
///
/// ```
/// use responses_ws_core::session::{Refused, SessionError};
///
/// let refused = Refused::new(SessionError::QueueFull { limit: 2 }, "the request");
/// assert_eq!(refused.error(), &SessionError::QueueFull { limit: 2 });
/// assert_eq!(refused.into_request(), "the request");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Refused<T> {
    error: SessionError,
    // Boxed: a refusal is rare, and a `Result` carrying a whole request inline would make
    // every successful call move hundreds of bytes.
    request: Box<T>,
}

impl<T> Refused<T> {
    /// `request` refused for `error`.
    pub fn new(error: SessionError, request: T) -> Self {
        Refused {
            error,
            request: Box::new(request),
        }
    }

    /// Why it was refused.
    pub fn error(&self) -> &SessionError {
        &self.error
    }

    /// Whether the only reason is a full outbound queue: the same call succeeds once some
    /// queued bytes are written.
    pub fn is_backpressure(&self) -> bool {
        matches!(self.error, SessionError::Backpressure { .. })
    }

    /// The request, unchanged.
    pub fn into_request(self) -> T {
        *self.request
    }

    /// The reason and the request.
    pub fn into_parts(self) -> (SessionError, T) {
        (self.error, *self.request)
    }
}

impl<T> From<Refused<T>> for SessionError {
    fn from(refused: Refused<T>) -> Self {
        refused.error
    }
}

impl<T> PartialEq<SessionError> for Refused<T> {
    fn eq(&self, other: &SessionError) -> bool {
        &self.error == other
    }
}

impl<T> fmt::Display for Refused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The reason is the whole message; the request is the caller's to show or not.
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T: fmt::Debug> core::error::Error for Refused<T> {}
