//! [`Timer`]: the connection's one timer, re-armed lazily. The core's deadline moves with
//! every byte received (keepalive), so the timer is replaced only when the deadline comes
//! earlier than the armed one; one armed too early fires, finds the deadline not due, and is
//! armed again for it.

use std::task::{Context, Poll};
use std::time::Instant as StdInstant;

use futures_core::future::BoxFuture;

use crate::runtime::Runtime;

/// A sleep of the runtime, armed for one moment.
#[derive(Default)]
pub(crate) struct Timer {
    armed: Option<(StdInstant, BoxFuture<'static, ()>)>,
}

impl Timer {
    /// `Ready` once `deadline` has passed; otherwise registers for it.
    pub(crate) fn poll_until(
        &mut self,
        runtime: &dyn Runtime,
        deadline: StdInstant,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        loop {
            if runtime.now() >= deadline {
                return Poll::Ready(());
            }
            let sleep = match &mut self.armed {
                Some((at, sleep)) if *at <= deadline => sleep,
                armed => &mut armed.insert((deadline, runtime.sleep_until(deadline))).1,
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.armed = None;
        }
    }
}
