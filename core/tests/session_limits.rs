//! The session's own limits, each met exactly: requests waiting in lane queues and steers
//! waiting for the server's answer. A refused call hands its request back and queues nothing.

use responses_ws_core::session::{Lane, Session, SessionConfig, SessionError};
use responses_ws_core::wire::ResponseCreate;
use responses_ws_core::Instant;

const CREATED: &str = r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":"m","output":[]}}"#;

fn turn(text: &str) -> ResponseCreate {
    ResponseCreate {
        model: Some("m".into()),
        store: Some(false),
        input: Some(text.into()),
        ..ResponseCreate::default()
    }
}

fn session(max_queued: usize) -> Session {
    let mut config = SessionConfig::default();
    config.max_queued = max_queued;
    let mut session = Session::new(config);
    session.connected(Instant::ZERO);
    session
}

fn drain(session: &mut Session) -> usize {
    std::iter::from_fn(|| session.poll_transmit()).count()
}

#[test]
fn requests_past_max_queued_are_handed_back() {
    let mut session = session(3);
    // One in flight, three waiting behind it on the lane.
    for n in 0..4 {
        session.create(turn(&format!("turn {n}"))).unwrap();
    }
    assert_eq!(drain(&mut session), 1, "one in flight per lane");
    let refused = session.create(turn("one too many")).unwrap_err();
    assert_eq!(refused.error(), &SessionError::QueueFull { limit: 3 });
    assert_eq!(refused.into_request(), turn("one too many"));
    assert_eq!(drain(&mut session), 0, "nothing of it was queued");
}

#[test]
fn steers_past_max_queued_are_handed_back() {
    let mut session = session(2);
    session.create(turn("Write a long essay.")).unwrap();
    session.handle_text(CREATED, Instant::ZERO);
    drain(&mut session);
    session.steer(&Lane::Default, "Shorter.").unwrap();
    session.steer(&Lane::Default, "In French.").unwrap();
    assert_eq!(drain(&mut session), 2);
    let refused = session.steer(&Lane::Default, "With a title.").unwrap_err();
    assert_eq!(refused.error(), &SessionError::QueueFull { limit: 2 });
    assert_eq!(refused.into_request(), "With a title.".into());
    assert_eq!(drain(&mut session), 0, "nothing of it was sent");
}
