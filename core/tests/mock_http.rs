//! The mock behind `POST /v1/responses`: SSE and JSON answers, stateless (`store: false`)
//! semantics, errors as HTTP statuses, and the same events as over WebSocket.
//!
//! Tests live in `mod mock` so that `cargo test mock` selects them.

mod mock_support;

mod mock {
    use super::mock_support::*;
    use core::time::Duration;
    use responses_ws_core::mock::{
        DropFault, HttpMock, HttpReply, Script, ScriptedCall, SseStream, TurnFault,
    };
    use serde_json::{json, Value};

    fn stream(reply: HttpReply) -> SseStream {
        match reply {
            HttpReply::Stream(stream) => stream,
            other => panic!("not a stream: {other:?}"),
        }
    }

    fn json_answer(reply: HttpReply) -> (u16, Value) {
        match reply {
            HttpReply::Json(answer) => {
                assert_eq!(
                    answer.headers[0],
                    ("content-type".into(), "application/json".into())
                );
                (answer.status, serde_json::from_str(&answer.body).unwrap())
            }
            other => panic!("not JSON: {other:?}"),
        }
    }

    fn events(stream: &SseStream) -> Vec<Value> {
        stream
            .events
            .iter()
            .map(|event| serde_json::from_str(&event.data).unwrap())
            .collect()
    }

    #[test]
    fn sse_carries_exactly_the_websocket_events() {
        let script = Script::new()
            .text("Hello there, nice to meet!", 3)
            .with_delta_delay(Duration::from_millis(10));
        let fields = json!({"model":"gpt-5.5","store":false,"input":"Say hello."});

        let mut ws = Probe::new(script.clone());
        ws.create(fields.clone());
        let mut ws_frames = Vec::new();
        while let Some(frame) = ws.server.poll_transmit() {
            ws_frames.push(frame);
        }
        while let Some(deadline) = ws
            .server
            .poll_timeout()
            .filter(|d| d.elapsed().as_secs() < 10)
        {
            ws.advance_to(deadline);
            ws_frames.extend(std::iter::from_fn(|| ws.server.poll_transmit()));
        }

        let mut http = HttpMock::new(script, 0);
        let mut body = fields;
        body["stream"] = json!(true);
        let sse = stream(http.respond(&body.to_string(), T0));
        let data: Vec<_> = sse.events.iter().map(|event| event.data.clone()).collect();
        assert_eq!(data, ws_frames);
        assert!(!sse.dropped);

        let delays: Vec<_> = sse.events.iter().map(|e| e.delay.as_millis()).collect();
        assert_eq!(delays, [0, 0, 0, 0, 10, 10, 10, 0, 0, 0, 0]);
        let first = &sse.events[0];
        assert_eq!(first.event_type, "response.created");
        assert_eq!(
            first.to_sse(),
            format!("event: response.created\ndata: {}\n\n", first.data)
        );
        let traffic = http.traffic();
        assert_eq!(traffic.frames_sent, 11);
        assert_eq!(
            traffic.bytes_sent,
            sse.events
                .iter()
                .map(|e| e.to_sse().len() as u64)
                .sum::<u64>()
        );
        assert_eq!(traffic.bytes_received, body.to_string().len() as u64);
    }

    #[test]
    fn full_context_tool_loop_over_http() {
        let script = Script::new()
            .tool_calls([
                ScriptedCall::new("get_weather", r#"{"city":"Paris"}"#),
                ScriptedCall::new("get_weather", r#"{"city":"Tokyo"}"#),
            ])
            .tool_calls([ScriptedCall::new("compare", "{}")])
            .text("Paris is warmer.", 2);
        let mut http = HttpMock::new(script, 0);
        let mut history = vec![user("Warmer in Paris or Tokyo?")];
        let mut turns = 0;
        let final_answer = loop {
            turns += 1;
            let body = json!({"model":"gpt-5.5","store":false,"stream":true,"input":history});
            let frames = events(&stream(http.respond(&body.to_string(), T0)));
            let response = terminal(&frames).clone();
            history.extend(response["output"].as_array().unwrap().iter().cloned());
            let calls = calls(&response);
            if calls.is_empty() {
                break answer(&response).to_owned();
            }
            history.extend(run_tools(&calls));
        };
        assert_eq!((turns, final_answer.as_str()), (3, "Paris is warmer."));
        assert!(http.store().is_empty(), "store: false keeps nothing");
    }

    #[test]
    fn chaining_needs_a_stored_response() {
        let mut http = HttpMock::new(Script::new().text("one", 1).text("two", 1), 0);
        let (status, unstored) = json_answer(http.respond(r#"{"store":false,"input":"Hi"}"#, T0));
        assert_eq!(
            (status, unstored["status"].as_str()),
            (200, Some("completed"))
        );
        let body = json!({"previous_response_id":unstored["id"],"input":"And?"}).to_string();
        let (status, error) = json_answer(http.respond(&body, T0));
        assert_eq!(status, 400);
        assert_eq!(
            error,
            json!({"error":{"type":"invalid_request_error","code":"previous_response_not_found","message":format!("Previous response with id '{}' not found.", unstored["id"].as_str().unwrap()),"param":"previous_response_id"}})
        );

        // `store` defaults to true.
        let (_, stored) = json_answer(http.respond(r#"{"input":"Hi"}"#, T0));
        assert_eq!(stored["store"], true);
        let body = json!({"previous_response_id":stored["id"],"input":"And?"}).to_string();
        let (status, next) = json_answer(http.respond(&body, T0));
        assert_eq!((status, answer(&next)), (200, "two"));
    }

    #[test]
    fn websocket_only_fields_and_bad_bodies_are_400() {
        let mut http = HttpMock::new(Script::new(), 0);
        for (body, code, param) in [
            (
                r#"{"stream_id":"a","input":"x"}"#,
                "unknown_parameter",
                Some("stream_id"),
            ),
            (
                r#"{"generate":false}"#,
                "unknown_parameter",
                Some("generate"),
            ),
            ("not json", "invalid_json", None),
            ("[1]", "invalid_json", None),
        ] {
            let (status, error) = json_answer(http.respond(body, T0));
            assert_eq!(status, 400, "{body}");
            assert_eq!(error["error"]["code"], code, "{body}");
            assert_eq!(error["error"]["param"].as_str(), param, "{body}");
        }
    }

    #[test]
    fn faults_become_statuses_and_cut_streams() {
        let script = Script::new()
            .with_turn_fault(TurnFault::error(0, 503, "server_is_overloaded", "Busy.").times(1))
            .with_drop(DropFault::after_events(2).on_connection(1));
        let mut http = HttpMock::new(script.clone(), 0);
        let (status, error) = json_answer(http.respond(r#"{"input":"x"}"#, T0));
        assert_eq!(
            (status, error),
            (
                503,
                json!({"error":{"type":"server_error","code":"server_is_overloaded","message":"Busy.","param":null}})
            )
        );
        let sse = stream(http.respond(r#"{"stream":true,"input":"x"}"#, T0));
        assert_eq!(sse.events.last().unwrap().event_type, "response.completed");

        let mut dropping = HttpMock::new(script, 1);
        dropping.respond(r#"{"input":"x"}"#, T0); // the fault's one error
        let sse = stream(dropping.respond(r#"{"stream":true,"input":"x"}"#, T0));
        assert!(sse.dropped);
        assert_eq!(
            sse.events.len(),
            1,
            "the error answer was the first event sent"
        );
    }
}
