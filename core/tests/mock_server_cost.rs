//! The mock's optional server-side cost ([`ServerCost`]) on a simulated clock: a chained
//! WebSocket turn pays only for its new input, a full-context turn for all of it, a request
//! whose parent comes from the store (HTTP `previous_response_id`, WebSocket after a reconnect)
//! pays the lookup, and a zero cost changes nothing.
//!
//! The cost per KiB is 1024 µs, so a request waits exactly one microsecond per byte of its
//! `input` JSON. Tests live in `mod mock` so that `cargo test mock` selects them.

mod mock_support;

mod mock {
    use super::mock_support::*;
    use core::time::Duration;
    use responses_ws_core::mock::{
        HttpMock, HttpReply, MockConnection, Script, ScriptedCall, ServerCost, SseEvent, SseStream,
        Turn,
    };
    use responses_ws_core::Instant;
    use serde_json::{json, Value};

    /// Lookup charge of these tests.
    const LOOKUP: Duration = Duration::from_millis(20);

    /// One microsecond per byte of input, 20 ms per stored lookup.
    fn cost() -> ServerCost {
        ServerCost::new(Duration::from_micros(1024), LOOKUP)
    }

    /// Two parallel calls with reasoning, then the answer.
    fn script() -> Script {
        Script::new()
            .turn(
                Turn::tool_calls([
                    ScriptedCall::new("read_file", r#"{"path":"a.rs"}"#),
                    ScriptedCall::new("read_file", r#"{"path":"b.rs"}"#),
                ])
                .with_reasoning("gAAAAB-reasoning"),
            )
            .text("The bug is in a.rs.", 3)
    }

    /// The input cost of `input`: one microsecond per byte of its JSON.
    fn input_cost(input: &Value) -> Duration {
        Duration::from_micros(input.to_string().len() as u64)
    }

    /// A user message of about 3 KiB (the first turn's input).
    fn first_input() -> Value {
        json!([user(&"Why does the ledger test fail? ".repeat(100))])
    }

    /// Time from `sent` to `response.created`, and from `response.in_progress` to the first
    /// event after it.
    fn waits(sent: Instant, frames: &[(Instant, Value)]) -> (Duration, Duration) {
        let at = |index: usize| frames[index].0;
        assert_eq!(frames[0].1["type"], "response.created", "{frames:#?}");
        assert_eq!(frames[1].1["type"], "response.in_progress");
        (at(0) - sent, at(2) - at(1))
    }

    /// Sends a create at the probe's time; the frames it causes, timed, and when it was sent.
    fn timed_exchange(probe: &mut Probe, fields: Value) -> (Instant, Vec<(Instant, Value)>) {
        let sent = probe.now;
        probe.create(fields);
        (sent, probe.settle_timed())
    }

    fn frames_only(frames: &[(Instant, Value)]) -> Vec<Value> {
        frames.iter().map(|(_, frame)| frame.clone()).collect()
    }

    fn stream(reply: HttpReply) -> SseStream {
        match reply {
            HttpReply::Stream(stream) => stream,
            other => panic!("not a stream: {other:?}"),
        }
    }

    fn sse_frames(stream: &SseStream) -> Vec<Value> {
        let parse = |event: &SseEvent| serde_json::from_str(&event.data).unwrap();
        stream.events.iter().map(parse).collect()
    }

    fn delays(stream: &SseStream) -> Vec<Duration> {
        stream.events.iter().map(|event| event.delay).collect()
    }

    #[test]
    fn a_chained_websocket_turn_pays_only_for_its_new_input() {
        let mut probe = Probe::new(script().with_server_cost(cost()));
        let input = first_input();
        let (sent, frames) =
            timed_exchange(&mut probe, json!({"store": false, "input": input.clone()}));
        assert_eq!(waits(sent, &frames), (Duration::ZERO, input_cost(&input)));
        let last = frames.last().unwrap().0;
        assert_eq!(last - sent, input_cost(&input), "nothing else waits");

        let first = terminal(&frames_only(&frames)).clone();
        let outputs = json!(run_tools(&calls(&first)));
        probe.advance_to(probe.now + Duration::from_secs(1));
        let chained = json!({
            "store": false,
            "previous_response_id": first["id"],
            "input": outputs.clone(),
        });
        let (sent, frames) = timed_exchange(&mut probe, chained);
        assert_eq!(waits(sent, &frames), (Duration::ZERO, input_cost(&outputs)));
        assert_eq!(
            answer(terminal(&frames_only(&frames))),
            "The bug is in a.rs."
        );

        // The same turn with the full context, on a fresh connection, pays for all of it.
        let mut history = input.as_array().unwrap().clone();
        history.extend(first["output"].as_array().unwrap().iter().cloned());
        history.extend(outputs.as_array().unwrap().iter().cloned());
        let history = Value::Array(history);
        let mut fresh = Probe::on_connection(script().with_server_cost(cost()), 1);
        let (sent, frames) = timed_exchange(
            &mut fresh,
            json!({"store": false, "input": history.clone()}),
        );
        assert_eq!(waits(sent, &frames), (Duration::ZERO, input_cost(&history)));
        assert_eq!(
            answer(terminal(&frames_only(&frames))),
            "The bug is in a.rs."
        );
        assert!(input_cost(&history) > input_cost(&outputs) * 10);
    }

    #[test]
    fn a_websocket_chain_pays_the_lookup_only_after_a_reconnect() {
        let mut probe = Probe::new(script().with_server_cost(cost()));
        let input = first_input();
        let (_, frames) = timed_exchange(&mut probe, json!({"input": input}));
        let first = terminal(&frames_only(&frames)).clone();
        assert_eq!(first["store"], true);
        let outputs = json!(run_tools(&calls(&first)));
        let chained = json!({"previous_response_id": first["id"], "input": outputs.clone()});

        // On the next connection the parent is only in the store: the lookup, then the input.
        let store = probe.server.store().clone();
        let mut next = Probe {
            server: MockConnection::new(script().with_server_cost(cost()), 1, T0).with_store(store),
            now: T0,
        };
        let (sent, frames) = timed_exchange(&mut next, chained.clone());
        assert_eq!(waits(sent, &frames), (LOOKUP, input_cost(&outputs)));

        // On its own connection it is the latest of the lane: no lookup.
        let (sent, frames) = timed_exchange(&mut probe, chained);
        assert_eq!(waits(sent, &frames), (Duration::ZERO, input_cost(&outputs)));

        // An unknown parent is refused at once.
        let sent = probe.now;
        probe.create(json!({"previous_response_id": "resp_unknown", "input": "Hi"}));
        let frames = probe.settle_timed();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0, sent);
        assert_eq!(
            single_error(&frames_only(&frames))["code"],
            "previous_response_not_found"
        );
    }

    #[test]
    fn a_warm_up_pays_for_its_input_then_the_chain_only_for_new_items() {
        let mut probe = Probe::new(script().with_server_cost(cost()));
        let input = first_input();
        let (sent, frames) = timed_exchange(
            &mut probe,
            json!({"store": false, "generate": false, "input": input.clone()}),
        );
        let types: Vec<_> = frames.iter().map(|(_, f)| f["type"].clone()).collect();
        assert_eq!(types, ["response.created", "response.completed"]);
        assert_eq!(frames[0].0, sent);
        assert_eq!(frames[1].0 - sent, input_cost(&input));

        let warm = &frames[1].1["response"];
        let next = json!({"store": false, "previous_response_id": warm["id"], "input": []});
        let (sent, frames) = timed_exchange(&mut probe, next);
        assert_eq!(
            waits(sent, &frames),
            (Duration::ZERO, input_cost(&json!([])))
        );
    }

    #[test]
    fn http_pays_the_whole_context_or_the_stored_lookup() {
        let input = first_input();
        let request = |fields: Value| {
            let mut body = json!({"model": "gpt-5.5", "stream": true});
            body.as_object_mut()
                .unwrap()
                .extend(fields.as_object().unwrap().clone());
            body.to_string()
        };
        let mut zero = vec![Duration::ZERO; 2];

        // Full context: the first turn pays its input, the second the whole history.
        let mut http = HttpMock::new(script().with_server_cost(cost()), 0);
        let first = stream(http.respond(&request(json!({"store": false, "input": input})), T0));
        let mut expected = zero.clone();
        expected.push(input_cost(&input));
        assert_eq!(delays(&first)[..3], expected[..]);
        assert!(delays(&first)[3..].iter().all(Duration::is_zero));
        let first = terminal(&sse_frames(&first)).clone();
        let outputs = json!(run_tools(&calls(&first)));
        let mut history = input.as_array().unwrap().clone();
        history.extend(first["output"].as_array().unwrap().iter().cloned());
        history.extend(outputs.as_array().unwrap().iter().cloned());
        let history = Value::Array(history);
        let second = stream(http.respond(&request(json!({"store": false, "input": history})), T0));
        assert_eq!(delays(&second)[2], input_cost(&history));
        assert_eq!(
            answer(terminal(&sse_frames(&second))),
            "The bug is in a.rs."
        );

        // previous_response_id: the lookup before response.created, then only the new items.
        let mut http = HttpMock::new(script().with_server_cost(cost()), 0);
        let first = stream(http.respond(&request(json!({"store": true, "input": input})), T0));
        let first = terminal(&sse_frames(&first)).clone();
        let outputs = json!(run_tools(&calls(&first)));
        let chained = request(json!({"previous_response_id": first["id"], "input": outputs}));
        let second = stream(http.respond(&chained, T0));
        zero[0] = LOOKUP;
        zero.push(input_cost(&outputs));
        assert_eq!(delays(&second)[..3], zero[..]);
        assert!(delays(&second)[3..].iter().all(Duration::is_zero));
        assert_eq!(
            answer(terminal(&sse_frames(&second))),
            "The bug is in a.rs."
        );
    }

    #[test]
    fn zero_cost_changes_nothing() {
        let paced = script().with_delta_delay(Duration::from_millis(10));
        let explicit_zero = paced
            .clone()
            .with_server_cost(ServerCost::new(Duration::ZERO, Duration::ZERO));
        assert_eq!(explicit_zero, paced);
        assert_eq!(explicit_zero.to_json(), paced.to_json());
        assert!(!paced.to_json().contains("server_cost"));

        let run_ws = |script: Script| {
            let mut probe = Probe::new(script);
            let (_, first) =
                timed_exchange(&mut probe, json!({"store": false, "input": first_input()}));
            let response = terminal(&frames_only(&first)).clone();
            let outputs = run_tools(&calls(&response));
            let next =
                json!({"store": false, "previous_response_id": response["id"], "input": outputs});
            let (_, second) = timed_exchange(&mut probe, next);
            (first, second)
        };
        let baseline = run_ws(paced.clone());
        assert_eq!(run_ws(explicit_zero.clone()), baseline);
        // Only the streaming pace waits: 2 argument deltas, then 3 text deltas of 10 ms.
        assert_eq!(baseline.0.last().unwrap().0 - T0, Duration::from_millis(20));

        let run_http = |script: Script| {
            let mut http = HttpMock::new(script, 0);
            let body = json!({"stream": true, "input": first_input()}).to_string();
            stream(http.respond(&body, T0))
        };
        let sse = run_http(explicit_zero);
        assert_eq!(sse, run_http(paced));
        let paced_delays: Vec<_> = delays(&sse).into_iter().filter(|d| !d.is_zero()).collect();
        assert_eq!(paced_delays, [Duration::from_millis(10); 2]);
    }
}
