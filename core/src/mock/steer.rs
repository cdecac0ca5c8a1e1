//! Mid-turn steering (`response.steer`, protocol.md §2.5) as the mock plays it: the events it
//! answers with and the successor request it creates.
//!
//! With steering off (the default) every steer fails with `steering_not_supported`. With it on,
//! a steer of a streaming response is accepted (one per response; a second fails with
//! `too_many_pending_steers`); the response is not cut short but completes normally, and then
//! either an automatic successor starts on the same lane (`previous_response_id` = the steered
//! response, `input` = the steering input, the original settings), or, when the response ended
//! with function calls, `response.steer.pending` lists the outputs the client must send.
//!
//! Steer events take the next `sequence_number` of the steered response; a steer whose target
//! is not streaming has no such numbering and gets `sequence_number` 0 (and the target's
//! `stream_id` when it is still cached).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

use super::conversation::PendingCall;
use crate::wire::{
    ApiError, EventKind, Input, RequiredInput, ResponseCreate, ResponseSteer, SteerAccepted,
    SteerFailed, SteerPending, SteerRef,
};

/// Steering is off in the script.
pub(crate) const NOT_SUPPORTED: &str = "steering_not_supported";
/// The target already has an accepted steer.
pub(crate) const TOO_MANY: &str = "too_many_pending_steers";
/// The target is no longer streaming.
pub(crate) const ALREADY_COMPLETED: &str = "response_already_completed";
/// The target is unknown.
pub(crate) const NOT_FOUND: &str = "response_not_found";
/// The steered response failed, so no successor could start.
pub(crate) const SUCCESSOR_FAILED: &str = "successor_creation_failed";

/// `response.steer.failed`, handing the input back.
pub(crate) fn failed(
    steer_id: Option<String>,
    previous_response_id: String,
    input: Input,
    code: &str,
) -> EventKind<'static> {
    let message = match code {
        NOT_SUPPORTED => "Steering is not supported for this model.".into(),
        TOO_MANY => "This response already has a pending steer.".into(),
        ALREADY_COMPLETED => format!("Response '{previous_response_id}' has already completed."),
        SUCCESSOR_FAILED => "We couldn't start the next response. Send this steering input again with response.create.".into(),
        _ => format!("Response '{previous_response_id}' not found."),
    };
    EventKind::SteerFailed(SteerFailed {
        steer: SteerRef {
            id: steer_id,
            previous_response_id,
            input: Some(input),
        },
        error: Some(ApiError {
            error_type: Some("invalid_request_error".into()),
            code: Some(code.into()),
            message,
            ..ApiError::default()
        }),
    })
}

/// `response.steer.failed` for a steer that was never accepted.
pub(crate) fn rejected(steer: ResponseSteer, code: &str) -> EventKind<'static> {
    failed(None, steer.previous_response_id, steer.input, code)
}

/// `response.steer.accepted`.
pub(crate) fn accepted(steer_id: String, previous_response_id: String) -> EventKind<'static> {
    EventKind::SteerAccepted(SteerAccepted {
        steer: SteerRef {
            id: Some(steer_id),
            previous_response_id,
            input: None,
        },
    })
}

/// `response.steer.pending`: the steered response ended with these calls.
pub(crate) fn pending(
    steer_id: String,
    previous_response_id: String,
    calls: &[PendingCall],
) -> EventKind<'static> {
    EventKind::SteerPending(SteerPending {
        steer: SteerRef {
            id: Some(steer_id),
            previous_response_id,
            input: None,
        },
        reason: Some("waiting_for_required_input".into()),
        required_input: calls
            .iter()
            .map(|call| RequiredInput {
                kind: "function_call_output".into(),
                call_id: call.call_id.clone(),
                name: Some(call.name.clone()),
            })
            .collect(),
    })
}

/// The automatic successor of a steered response: the original settings, continuing from it,
/// with the steering input.
pub(crate) fn successor(
    original: &ResponseCreate,
    steered: &str,
    input: Input,
) -> Box<ResponseCreate> {
    Box::new(ResponseCreate {
        previous_response_id: Some(steered.into()),
        input: Some(input),
        generate: None,
        ..original.clone()
    })
}
