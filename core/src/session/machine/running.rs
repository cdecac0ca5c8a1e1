//! What the client adds to a response while it runs: steering (`response.steer`, its
//! verdicts and the input they hand back) and injection (`response.inject`, multi-agent
//! beta). Each verdict is routed to the lane whose response it concerns.

use alloc::vec::Vec;

use super::{LaneState, Phase, Session, Steer, ALREADY_COMPLETED};
use crate::session::events::{SessionError, SessionEvent};
use crate::session::lane::Lane;
use crate::session::ledger::LaneLedger;
use crate::session::refused::Refused;
use crate::wire::{
    ClientEvent, EventKind, Input, Item, ResponseInject, ResponseSteer, ServerEvent,
};

impl Session {
    /// Steers the lane's running response with more user input (`response.steer`).
    ///
    /// Refused, with the input handed back, when the lane has no running response.
    pub fn steer(&mut self, lane: &Lane, input: impl Into<Input>) -> Result<(), Refused<Input>> {
        let input = input.into();
        let limit = self.config.max_queued;
        let state = self.lane_mut(lane);
        let target = match &state.phase {
            Phase::Streaming(_, assembly) => assembly.response().map(|r| r.id.clone()),
            _ => None,
        };
        let Some(target) = target else {
            return Err(Refused::new(
                SessionError::NothingToSteer(lane.clone()),
                input,
            ));
        };
        // Steers wait here until the server applies or refuses them: as many as requests may
        // wait in the lane queues, no more.
        if state.steers.len() >= limit {
            return Err(Refused::new(SessionError::QueueFull { limit }, input));
        }
        state.steers.push(Steer {
            input: input.clone(),
            id: None,
        });
        let steer = ResponseSteer {
            previous_response_id: target,
            input,
        };
        self.outbox.push_back(ClientEvent::from(steer).to_json());
        Ok(())
    }

    /// Commits `input` (tool outputs of client-owned calls) into the lane's running response
    /// with `response.inject` (multi-agent beta: the connection needs the header
    /// `OpenAI-Beta: responses_multi_agent=v1`). The server answers with
    /// [`SessionEvent::InjectAccepted`] (the items join the conversation with the response,
    /// after the calls they answer) or [`SessionEvent::InjectFailed`] (handed back; after
    /// `response_already_completed` the session keeps them for the lane's next request).
    ///
    /// Refused, with the input handed back, when the lane has no running response, or holds
    /// [`max_queued`](crate::session::SessionConfig::max_queued) injections without a verdict.
    pub fn inject(&mut self, lane: &Lane, input: Vec<Item>) -> Result<(), Refused<Vec<Item>>> {
        let limit = self.config.max_queued;
        let state = self.lane_mut(lane);
        let target = match &state.phase {
            Phase::Streaming(_, assembly) => assembly.response().map(|r| r.id.clone()),
            _ => None,
        };
        let Some(response_id) = target else {
            return Err(Refused::new(
                SessionError::NothingToInject(lane.clone()),
                input,
            ));
        };
        if state.injections.len() >= limit {
            return Err(Refused::new(SessionError::QueueFull { limit }, input));
        }
        state.injections.sent(input.clone());
        let inject = ResponseInject { response_id, input };
        self.outbox.push_back(ClientEvent::from(inject).to_json());
        Ok(())
    }

    /// The lane of a steering event: the lane whose response it steers, else its `stream_id`'s.
    pub(super) fn steer_event_lane(&self, event: &ServerEvent<'_>, echoed: &Lane) -> Option<Lane> {
        let target = match &event.kind {
            EventKind::SteerAccepted(e) => &e.steer.previous_response_id,
            EventKind::SteerPending(e) => &e.steer.previous_response_id,
            EventKind::SteerFailed(e) => &e.steer.previous_response_id,
            _ => return None,
        };
        Some(self.steered_lane(target).unwrap_or_else(|| echoed.clone()))
    }

    /// A steering event. It shares the sequence numbers of the response it steers, so a
    /// running response's assembly sees it too.
    pub(super) fn on_steer_event(&mut self, lane: Lane, event: &ServerEvent<'_>) {
        if let Phase::Streaming(_, assembly) = &mut self.lane_mut(&lane).phase {
            assembly.push(event);
        }
        match &event.kind {
            EventKind::SteerAccepted(accepted) => {
                let state = self.lane_mut(&lane);
                if let Some(steer) = state.steers.iter_mut().find(|steer| steer.id.is_none()) {
                    steer.id = accepted.steer.id.clone();
                }
                let steer_id = accepted.steer.id.clone().unwrap_or_default();
                self.events
                    .push_back(SessionEvent::SteerAccepted { lane, steer_id });
            }
            EventKind::SteerPending(pending) => {
                let call_ids = pending
                    .required_input
                    .iter()
                    .map(|stub| stub.call_id.clone())
                    .collect();
                self.events
                    .push_back(SessionEvent::SteerPending { lane, call_ids });
            }
            EventKind::SteerFailed(failed) => {
                let state = self.lane_mut(&lane);
                let position = state
                    .steers
                    .iter()
                    .position(|steer| failed.steer.id.is_some() && steer.id == failed.steer.id);
                let sent = position.or(state.steers.iter().position(|steer| steer.id.is_none()));
                let ours = sent.map(|index| state.steers.remove(index).input);
                let input = failed.steer.input.clone().or(ours).unwrap_or_default();
                let error = failed.error.clone();
                // No successor will start for a failed steer.
                if matches!(state.phase, Phase::AwaitingSuccessor) {
                    state.phase = Phase::Idle;
                }
                self.events
                    .push_back(SessionEvent::SteerFailed { lane, input, error });
            }
            _ => {}
        }
    }

    /// The lane of an inject verdict: the lane whose response it concerns (running, or
    /// ended with injections still waiting), else its `stream_id`'s.
    pub(super) fn inject_event_lane(&self, event: &ServerEvent<'_>, echoed: &Lane) -> Option<Lane> {
        let target = match &event.kind {
            EventKind::InjectCreated(e) => &e.response_id,
            EventKind::InjectFailed(e) => &e.response_id,
            _ => return None,
        };
        let concerned = self.lanes.iter().find_map(|(lane, state)| {
            let running = match &state.phase {
                Phase::Streaming(_, assembly) => assembly.response().map(|r| &r.id),
                _ => None,
            };
            let ended = (state.injections.len() > 0)
                .then(|| {
                    self.ledger
                        .lane(lane)
                        .and_then(LaneLedger::last_response_id)
                })
                .flatten();
            (running == Some(target) || ended == Some(target.as_str())).then(|| lane.clone())
        });
        Some(concerned.unwrap_or_else(|| echoed.clone()))
    }

    /// An inject verdict. It shares the sequence numbers of the response it concerns, so a
    /// running response's assembly sees it too.
    pub(super) fn on_inject_event(&mut self, lane: Lane, event: &ServerEvent<'_>) {
        let state = self.lane_mut(&lane);
        if let Phase::Streaming(_, assembly) = &mut state.phase {
            assembly.push(event);
        }
        match &event.kind {
            EventKind::InjectCreated(created) if state.injections.committed() => {
                self.events.push_back(SessionEvent::InjectAccepted {
                    lane,
                    response_id: created.response_id.clone(),
                });
            }
            EventKind::InjectFailed(failed) => {
                let ours = state.injections.refused();
                let input = if failed.input.is_empty() {
                    ours.unwrap_or_default()
                } else {
                    failed.input.clone()
                };
                let completed = failed.error.as_ref().and_then(|e| e.code.as_deref())
                    == Some(ALREADY_COMPLETED);
                let kept = completed && !input.is_empty();
                if kept {
                    self.keep_injected(&lane, input.clone());
                }
                self.events.push_back(SessionEvent::InjectFailed {
                    lane,
                    input,
                    error: failed.error.clone(),
                    kept,
                });
            }
            _ => {}
        }
    }

    /// Items the server would not inject because the response had completed: outputs of the
    /// calls the lane waits for are submitted as those outputs (the continuation goes out
    /// once every call has one); everything else waits as input of the lane's next request.
    pub(super) fn keep_injected(&mut self, lane: &Lane, input: Vec<Item>) {
        let mut rest = Vec::new();
        for item in input {
            let answer = match &item {
                Item::FunctionCallOutput(output) => {
                    Some((output.call_id.clone(), output.output.clone()))
                }
                _ => None,
            };
            let pending = |state: &LaneState, call_id: &str| match &state.phase {
                Phase::AwaitingTools(pending) => {
                    pending.calls.iter().any(|call| call.call_id == call_id)
                }
                _ => false,
            };
            match answer {
                Some((call_id, output)) if pending(self.lane_mut(lane), &call_id) => {
                    // A duplicate answer is refused by the lane and dropped: the call has one.
                    let _ = self.submit_tool_output(lane, &call_id, output);
                }
                _ => rest.push(item),
            }
        }
        if !rest.is_empty() {
            self.ledger.lane_mut(lane).push_input(rest);
        }
    }

    /// Injected items the conversation will not keep (their response failed, or its
    /// connection ended first), back to the application, each injection as it was sent.
    pub(super) fn hand_back_injected(
        &mut self,
        lane: &Lane,
        inputs: impl IntoIterator<Item = Vec<Item>>,
    ) {
        for input in inputs.into_iter().filter(|input| !input.is_empty()) {
            self.events.push_back(SessionEvent::InjectFailed {
                lane: lane.clone(),
                input,
                error: None,
                kept: false,
            });
        }
    }

    /// The lane whose running response is `response_id`.
    pub(super) fn steered_lane(&self, response_id: &str) -> Option<Lane> {
        self.lanes
            .iter()
            .find_map(|(lane, state)| match &state.phase {
                Phase::Streaming(_, assembly)
                    if assembly.response().is_some_and(|r| r.id == response_id) =>
                {
                    Some(lane.clone())
                }
                _ if !state.steers.is_empty()
                    && self
                        .ledger
                        .lane(lane)
                        .and_then(LaneLedger::last_response_id)
                        == Some(response_id) =>
                {
                    Some(lane.clone())
                }
                _ => None,
            })
    }
}
