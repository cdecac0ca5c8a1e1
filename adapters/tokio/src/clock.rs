//! Time for the core: one origin per [`Connection`](crate::Connection), the mapping between the
//! core's [`Instant`] and tokio's, and the one timer armed at the core's next deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use responses_ws_core::Instant;
use tokio::time::{self, Sleep};

/// The origin the core's instants count from (tokio's clock, so paused test time works too).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: time::Instant,
}

impl Clock {
    /// A clock whose origin is now.
    pub(crate) fn new() -> Self {
        Clock {
            origin: time::Instant::now(),
        }
    }

    /// Now, as the core counts.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_elapsed(time::Instant::now().saturating_duration_since(self.origin))
    }

    /// The tokio instant of a core instant.
    pub(crate) fn tokio_instant(&self, at: Instant) -> time::Instant {
        self.origin + at.elapsed()
    }
}

/// The single timer of a connection, re-armed only when the core's deadline moves.
#[derive(Debug)]
pub(crate) struct Timer {
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl Timer {
    /// A timer that is not armed yet.
    pub(crate) fn new() -> Self {
        Timer {
            sleep: Box::pin(time::sleep_until(time::Instant::now())),
            armed: None,
        }
    }

    /// Ready once `deadline` has passed; registers the waker otherwise.
    pub(crate) fn poll_until(
        &mut self,
        cx: &mut Context<'_>,
        clock: &Clock,
        deadline: Instant,
    ) -> Poll<()> {
        if self.armed != Some(deadline) {
            self.sleep.as_mut().reset(clock.tokio_instant(deadline));
            self.armed = Some(deadline);
        }
        self.sleep.as_mut().poll(cx)
    }
}
