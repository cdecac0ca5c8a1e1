//! What a transport without a shared connection needs of the session (HTTP + SSE, where every
//! request is its own exchange): events routed to a lane by the exchange that carried them
//! rather than by `stream_id`, one lane's request lost without touching the others, and the
//! session's configuration replaced when it moves between transports.

use super::*;

impl Session {
    /// Reads the JSON text of a server event that arrived on `lane`'s own exchange (over HTTP
    /// the event names no `stream_id`: the exchange that carried it says whose it is). Handled
    /// as [`handle_frame`](Self::handle_frame) handles a WebSocket frame of that lane, and
    /// decoded once: the application's [`StreamEvent`] shares `frame`. A frame that is not a
    /// server event changes nothing and is answered with its error, the caller's to judge
    /// (over HTTP it breaks the exchange).
    pub fn handle_frame_on(
        &mut self,
        lane: &Lane,
        frame: Utf8Bytes,
        now: Instant,
    ) -> Result<(), DecodeError> {
        self.now = now;
        let read = self.read_frame(Some(lane), &frame);
        self.pump();
        read
    }

    /// Reads a decoded server event of `lane`'s own exchange, as the frame
    /// [`ServerEvent::to_json`] writes (see [`handle_frame_on`](Self::handle_frame_on)).
    pub fn handle_event_on(&mut self, lane: &Lane, event: ServerEvent<'_>, now: Instant) {
        // An event written by `to_json` decodes.
        let _ = self.handle_frame_on(lane, Utf8Bytes::from(event.to_json()), now);
    }

    /// The exchange carrying `lane`'s request ended before its terminal event, with `cause`;
    /// no other lane is touched. With `retry`, the request goes out again (as after a lost
    /// connection: while it has attempts left, and a started one only with
    /// [`RetryPolicy::retry_started`](crate::retry::RetryPolicy::retry_started)); without,
    /// it fails — with [`RequestError::GaveUp`] if it had not started,
    /// [`RequestError::Interrupted`] if it had. A started request lost to
    /// [`Failure::IdleTimeout`] fails with [`RequestError::IdleTimeout`] and is not retried.
    /// Its input stays in the ledger either way.
    pub fn exchange_lost(&mut self, lane: &Lane, cause: &Failure, retry: bool, now: Instant) {
        self.now = now;
        if let Failure::IdleTimeout = cause {
            // As over WebSocket: a started response that went idle fails as such.
            if let Some(active) = self.lane_mut(lane).active_mut() {
                active.abandoned = Some(Abandoned::IdleTimeout);
            }
        }
        let unstarted = matches!(
            self.lanes.get(lane).map(|state| &state.phase),
            Some(Phase::Sent(_))
        );
        self.end_lane_traffic(lane, cause, retry);
        if !retry && unstarted {
            // `end_lane_traffic` put it back at the front of the queue: it ends here.
            if let Some(request) = self.lane_mut(lane).queue.pop_front() {
                let safety = RetrySafety::SentNotStarted;
                let gave_up = GaveUp::new(cause.clone(), request.attempts, safety);
                self.events.push_back(SessionEvent::Failed {
                    lane: lane.clone(),
                    request: request.id,
                    error: RequestError::GaveUp(Box::new(gave_up)),
                });
            }
        }
        self.pump();
    }

    /// The session's limits and timings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Replaces the limits and timings (a session moving to another transport takes that
    /// transport's: [`SessionConfig::connection_cache`] above all).
    pub(crate) fn set_config(&mut self, config: SessionConfig) {
        self.config = config;
    }
}
