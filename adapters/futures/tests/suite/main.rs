//! The adapter over real loopback TCP against a scripted Responses server (or the core's
//! mock, for the multi-agent beta), every test body run under every runtime: async-std, smol
//! and tokio. One test binary; its modules group the scenarios by theme.

#[path = "../support/mod.rs"]
mod support;

mod backpressure;
mod connecting;
mod multi_agent;
mod reconnect;
mod turns;

use std::time::Duration;

use responses_ws_futures::responses_ws_core::wire::EventKind;
use responses_ws_futures::{ClientEvent, Connection, ResponseCreate, RetryPolicy, SessionEvent};
pub(crate) use support::*;

/// A request with model `m` and a text input.
fn ask(text: &str) -> ResponseCreate {
    ResponseCreate {
        model: Some("m".into()),
        input: Some(text.into()),
        ..Default::default()
    }
}

/// A request on a named lane.
fn ask_on(lane: &str, text: &str) -> ResponseCreate {
    ResponseCreate {
        stream_id: Some(lane.into()),
        ..ask(text)
    }
}

/// A short description of an event, for exact comparisons.
fn describe(event: &ClientEvent) -> String {
    match event {
        ClientEvent::Connected { .. } => "connected".into(),
        ClientEvent::Disconnected { closed } => format!("disconnected {}", closed.code),
        ClientEvent::Reconnecting { attempt, .. } => format!("reconnecting {attempt}"),
        ClientEvent::GaveUp(gave_up) => format!("gave up {}", gave_up.attempts),
        ClientEvent::Session(session) => describe_session(session),
        other => format!("{other:?}"),
    }
}

/// The session event, if the event is one.
fn session(event: ClientEvent) -> Option<SessionEvent> {
    match event {
        ClientEvent::Session(event) => Some(event),
        _ => None,
    }
}

fn describe_session(event: &SessionEvent) -> String {
    match event {
        SessionEvent::Started {
            lane, response_id, ..
        } => format!("{lane}: started {response_id}"),
        SessionEvent::Stream { lane, event, .. } => match &event.decoded().kind {
            EventKind::OutputTextDelta(delta) => {
                format!("{lane}: delta {}", delta.delta)
            }
            _ => format!("{lane}: {}", event.decoded().event_type()),
        },
        SessionEvent::Completed { lane, response, .. } => {
            format!(
                "{lane}: completed {} {:?}",
                response.id,
                response.all_output_text()
            )
        }
        SessionEvent::Failed { lane, error, .. } => format!("{lane}: failed {error}"),
        SessionEvent::FullContext { lane, reason, .. } => {
            format!("{lane}: full context {reason:?}")
        }
        SessionEvent::SteerAccepted { lane, steer_id } => {
            format!("{lane}: steer accepted {steer_id}")
        }
        SessionEvent::Reconnect { reason } => format!("reconnect {reason:?}"),
        SessionEvent::Retrying {
            lane,
            attempt,
            safety,
            ..
        } => format!("{lane}: retrying {attempt} {safety:?}"),
        SessionEvent::ToolCalls { lane, calls, .. } => {
            format!("{lane}: {} tool calls", calls.len())
        }
        other => format!("{other:?}"),
    }
}

/// The value of header `name` in the `101` that opened the current connection.
fn handshake_header(conn: &Connection, name: &str) -> Option<String> {
    let header = conn
        .handshake_headers()
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name));
    header.and_then(|h| h.value_str()).map(String::from)
}

/// Takes events until one whose description starts with `last`; returns their descriptions.
async fn events_until(conn: &mut Connection, last: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let event = conn.next_event().await.unwrap().expect("events ended");
        let text = describe(&event);
        let done = text.starts_with(last);
        seen.push(text);
        if done {
            return seen;
        }
    }
}

/// Retries with short delays (10 ms to 40 ms), the default budget.
fn quick_policy() -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    policy.base_delay = Duration::from_millis(10);
    policy.max_delay = Duration::from_millis(40);
    policy
}
