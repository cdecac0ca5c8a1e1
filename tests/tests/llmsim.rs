//! Our tokio client against a server nobody here wrote: `llmsim serve` (installed by
//! `tests/interop/install.sh` into `tests/.peers/llmsim`) on loopback. The client completes a
//! turn and a chained turn; then, after a rotation to a new connection, it continues a
//! `store: true` chain that llmsim cannot find there, gets `previous_response_not_found`, and
//! recovers by itself with one full-context replay. Over llmsim's HTTP endpoint (`POST` with
//! `stream: true`, SSE, kept-alive sockets), our HTTP + SSE transport runs turns that send
//! their whole context (`store: false`), turns that chain (`store: true`), and two lanes at
//! once on two sockets.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use responses_ws_core::session::{FullContextReason, Lane, SessionConfig, SessionEvent};
use responses_ws_tokio::{ClientEvent, Config, Connection, ResponseCreate, RetryPolicy, Transport};

/// The llmsim process, killed by PID when dropped.
struct Llmsim {
    child: Child,
    port: u16,
}

impl Llmsim {
    fn start() -> Llmsim {
        let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join(".peers/llmsim/bin/llmsim");
        assert!(
            binary.exists(),
            "{} is missing: run tests/interop/install.sh",
            binary.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--generator", "fixed:the answer is 42."])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("llmsim starts");
        let llmsim = Llmsim { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "llmsim does not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        llmsim
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/openai/v1/responses", self.port)
    }
}

impl Drop for Llmsim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn turn(text: &str) -> ResponseCreate {
    stored_turn(text, true)
}

fn stored_turn(text: &str, store: bool) -> ResponseCreate {
    ResponseCreate {
        model: Some("gpt-5".into()),
        store: Some(store),
        input: Some(text.into()),
        ..ResponseCreate::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Session events until the next `Completed` or `Failed`.
async fn until_done(conn: &mut Connection) -> Vec<SessionEvent> {
    let mut events = Vec::new();
    while let Some(event) = conn.next_event().await.expect("the connection goes on") {
        if let ClientEvent::Session(event) = event {
            let done = matches!(
                event,
                SessionEvent::Completed { .. } | SessionEvent::Failed { .. }
            );
            if !matches!(event, SessionEvent::Stream { .. }) {
                events.push(event);
            }
            if done {
                return events;
            }
        }
    }
    panic!("the connection ended: {events:?}");
}

fn completed_text(events: &[SessionEvent]) -> String {
    match events.last() {
        Some(SessionEvent::Completed { response, .. }) => response.all_output_text(),
        other => panic!("not completed: {other:?} in {events:?}"),
    }
}

fn full_context(events: &[SessionEvent]) -> Vec<FullContextReason> {
    let reasons = events.iter().filter_map(|e| match e {
        SessionEvent::FullContext { reason, .. } => Some(*reason),
        _ => None,
    });
    reasons.collect()
}

#[test]
fn our_client_chains_turns_on_llmsim_and_recovers_from_previous_response_not_found() {
    let llmsim = Llmsim::start();
    runtime().block_on(async {
        let mut session = SessionConfig::default();
        // Long enough for two of llmsim's turns on a loaded machine (it paces its tokens).
        session.rotate_after = Duration::from_secs(8);
        let config = Config::new(&llmsim.url())
            .unwrap()
            .session(session)
            .retry(RetryPolicy::default());
        let connected = tokio::time::Instant::now();
        let mut conn = Connection::connect(config)
            .await
            .expect("upgrade to llmsim");

        conn.create(turn("What is six times seven?")).await.unwrap();
        let first = until_done(&mut conn).await;
        assert_eq!(completed_text(&first), "the answer is 42.");

        conn.create(turn("Say it again.")).await.unwrap();
        let second = until_done(&mut conn).await;
        assert_eq!(completed_text(&second), "the answer is 42.");
        assert_eq!(
            full_context(&second),
            [],
            "the second turn chains on the same connection"
        );

        // Past the rotation age the session asks for a new connection; llmsim's cache is
        // per connection, so the stored chain is gone there and the session must recover.
        tokio::time::sleep_until(connected + Duration::from_millis(8100)).await;
        conn.create(turn("And once more.")).await.unwrap();
        let third = until_done(&mut conn).await;
        assert!(
            third
                .iter()
                .any(|e| matches!(e, SessionEvent::Reconnect { .. })),
            "rotated: {third:?}"
        );
        assert_eq!(
            full_context(&third),
            [FullContextReason::PreviousResponseNotFound]
        );
        assert_eq!(completed_text(&third), "the answer is 42.");
        assert_eq!(
            third
                .iter()
                .filter(|e| matches!(e, SessionEvent::Failed { .. }))
                .count(),
            0,
            "the not-found was recovered, not reported as a failure"
        );
        conn.close().await.unwrap();
    });
}

#[test]
fn our_http_transport_runs_full_context_chained_and_parallel_turns_on_llmsim() {
    let llmsim = Llmsim::start();
    runtime().block_on(async {
        let config = Config::new(&llmsim.url())
            .unwrap()
            .transport(Transport::Http)
            .retry(RetryPolicy::default());
        let mut conn = Connection::connect(config)
            .await
            .expect("nothing to open ahead");
        assert_eq!(conn.transport(), Transport::Http);

        // `store: false`: each turn after the first sends the whole conversation.
        conn.create(stored_turn("What is six times seven?", false))
            .await
            .unwrap();
        let first = until_done(&mut conn).await;
        assert_eq!(completed_text(&first), "the answer is 42.");
        conn.create(stored_turn("Say it again.", false))
            .await
            .unwrap();
        let second = until_done(&mut conn).await;
        assert_eq!(completed_text(&second), "the answer is 42.");
        assert_eq!(full_context(&second).len(), 1, "{second:?}");

        // `store: true`: the next turn chains with `previous_response_id`.
        conn.create(stored_turn("Store this one.", true))
            .await
            .unwrap();
        until_done(&mut conn).await;
        conn.create(stored_turn("And chain on it.", true))
            .await
            .unwrap();
        let chained = until_done(&mut conn).await;
        assert_eq!(completed_text(&chained), "the answer is 42.");
        assert_eq!(full_context(&chained), [], "chained: {chained:?}");

        // Two lanes at once: two requests in flight, each on a socket of its own.
        for lane in ["planner", "critic"] {
            let request = ResponseCreate {
                stream_id: Some(lane.into()),
                ..stored_turn("Go.", false)
            };
            conn.create(request).await.unwrap();
        }
        assert_eq!(conn.session().in_flight(), 2);
        let sockets = conn.http_client().unwrap().sockets().count();
        assert!(sockets >= 2, "{sockets} sockets for two requests");
        let mut lanes = Vec::new();
        while lanes.len() < 2 {
            let events = until_done(&mut conn).await;
            let Some(SessionEvent::Completed { lane, response, .. }) = events.last() else {
                panic!("{events:?}");
            };
            assert_eq!(response.all_output_text(), "the answer is 42.");
            lanes.push(lane.clone());
        }
        lanes.sort();
        assert_eq!(
            lanes,
            [
                Lane::named("critic").unwrap(),
                Lane::named("planner").unwrap()
            ]
        );
        conn.close().await.unwrap();
    });
}
