//! The mock's multi-agent beta (protocol.md §2.6), frame by frame: `response.inject` refused
//! without the beta header; with it, a multi-agent response that waits for the outputs of its
//! calls, takes them by injection and goes on in the same response; every refusal
//! (`response_not_found`, `response_already_completed`, `invalid_input`) handing the input
//! back; a response that waits in vain completing and owing its calls to the next request;
//! `agent` and `stream_id` on the frames of a multi-agent response.
//!
//! Tests live in `mod mock` so that `cargo test mock` selects them.

mod mock_support;

mod mock {
    use super::mock_support::*;
    use core::time::Duration;
    use responses_ws_core::mock::{MultiAgentScript, Script, ScriptedCall};
    use responses_ws_core::ws::Header;
    use serde_json::{json, Value};

    /// Two parallel calls, then the answer.
    fn script() -> Script {
        Script::new()
            .tool_calls([
                ScriptedCall::new("get_weather", r#"{"city":"Paris"}"#),
                ScriptedCall::new("get_weather", r#"{"city":"Tokyo"}"#),
            ])
            .text("Paris is warmer.", 2)
    }

    /// A probe whose upgrade request asked for the multi-agent beta.
    fn with_beta(script: Script) -> Probe {
        let mut probe = Probe::new(script);
        let beta = Header::new("OpenAI-Beta", "responses_multi_agent=v1");
        probe.server.upgraded(&[beta]);
        probe
    }

    /// A multi-agent request on lane `researcher`.
    fn multi_agent(extra: Value) -> Value {
        let mut request = json!({
            "model": "gpt-5.5",
            "store": false,
            "stream_id": "researcher",
            "multi_agent": {"enabled": true},
            "input": "Is it warmer in Paris or in Tokyo?",
        });
        for (key, value) in extra.as_object().unwrap() {
            request[key] = value.clone();
        }
        request
    }

    fn inject(response_id: &str, input: Value) -> String {
        json!({"type":"response.inject","response_id":response_id,"input":input}).to_string()
    }

    fn output(call_id: &str, text: &str) -> Value {
        json!({"type":"function_call_output","call_id":call_id,"output":text})
    }

    /// The `call_id`s of the calls the frames completed, in order.
    fn call_ids(frames: &[Value]) -> Vec<String> {
        frames
            .iter()
            .filter(|frame| frame["type"] == "response.output_item.done")
            .filter(|frame| frame["item"]["type"] == "function_call")
            .map(|frame| frame["item"]["call_id"].as_str().unwrap().to_owned())
            .collect()
    }

    fn response_id(frames: &[Value]) -> String {
        frames[0]["response"]["id"].as_str().unwrap().to_owned()
    }

    fn sequence(frame: &Value) -> u64 {
        frame["sequence_number"].as_u64().unwrap()
    }

    #[test]
    fn without_the_beta_inject_is_an_event_the_server_does_not_serve() {
        let mut probe = Probe::new(script());
        let frames = probe.exchange(multi_agent(json!({})));
        // No beta: the response is a plain one, complete with its calls.
        assert_eq!(types(&frames).last(), Some(&"response.completed"));
        let [first, _] = &call_ids(&frames)[..] else {
            panic!("two calls: {frames:#?}")
        };
        probe.send_raw(&inject(
            &response_id(&frames),
            json!([output(first, "14 °C")]),
        ));
        let frames = probe.drain();
        let error = single_error(&frames);
        assert_eq!(error["code"], "unsupported_event_type");
        assert_eq!(error["param"], "type");
        assert!(error["message"]
            .as_str()
            .unwrap()
            .contains("OpenAI-Beta: responses_multi_agent=v1"));
        assert!(frames[0].get("stream_id").is_none());
    }

    #[test]
    fn a_waiting_response_takes_injected_outputs_and_goes_on_in_the_same_response() {
        let mut probe = with_beta(script());
        let frames = probe.exchange(multi_agent(json!({})));
        // The calls, and no terminal: the response waits for their outputs.
        assert_eq!(
            types(&frames),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
            ]
        );
        let id = response_id(&frames);
        let (paris, tokyo) = match &call_ids(&frames)[..] {
            [paris, tokyo] => (paris.clone(), tokyo.clone()),
            other => panic!("two calls: {other:?}"),
        };
        let waits_until = probe.server.poll_timeout().expect("the wait's deadline");
        assert_eq!(waits_until, T0 + Duration::from_secs(60));

        // One output: committed; the response still waits for the other.
        probe.send_raw(&inject(&id, json!([output(&paris, "14 °C")])));
        let created = probe.drain();
        assert_eq!(
            created,
            [json!({
                "type": "response.inject.created",
                "agent": {"agent_name": "main"},
                "stream_id": "researcher",
                "sequence_number": 10,
                "response_id": id,
            })]
        );

        // The same output again: refused, handed back, the item at fault named.
        probe.send_raw(&inject(&id, json!([output(&paris, "14 °C")])));
        let refused = probe.drain();
        assert_eq!(types(&refused), ["response.inject.failed"]);
        assert_eq!(refused[0]["sequence_number"], 11);
        assert_eq!(refused[0]["agent"]["agent_name"], "main");
        assert_eq!(refused[0]["error"]["code"], "invalid_input");
        assert_eq!(refused[0]["error"]["param"], "input[0]");
        assert_eq!(refused[0]["input"], json!([output(&paris, "14 °C")]));

        // The last output: committed, and the response goes on with the next step.
        probe.send_raw(&inject(&id, json!([output(&tokyo, "9 °C")])));
        let frames = probe.settle();
        assert_eq!(
            types(&frames),
            [
                "response.inject.created",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let numbers: Vec<u64> = frames.iter().map(sequence).collect();
        assert_eq!(numbers, (12..21).collect::<Vec<_>>(), "one numbering");
        assert!(frames
            .iter()
            .all(|frame| frame["stream_id"] == "researcher"));
        let response = terminal(&frames);
        assert_eq!(response["id"], id.as_str());
        let kinds: Vec<&str> = (response["output"].as_array().unwrap().iter())
            .map(|item| item["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["function_call", "function_call", "message"]);
        assert_eq!(answer(response), "Paris is warmer.");

        // The next request owes nothing: the calls have their outputs.
        let next = probe.exchange(multi_agent(json!({
            "previous_response_id": id,
            "input": "And in Oslo?",
        })));
        assert_eq!(
            types(&next).last(),
            Some(&"response.completed"),
            "{next:#?}"
        );
    }

    #[test]
    fn a_step_with_calls_after_the_injection_waits_again() {
        let script = Script::new()
            .tool_calls([ScriptedCall::new("search", r#"{"q":"flights"}"#)])
            .tool_calls([ScriptedCall::new("book", r#"{"flight":"LIS1"}"#)])
            .text("Booked.", 1);
        let mut probe = with_beta(script);
        let frames = probe.exchange(multi_agent(json!({})));
        let id = response_id(&frames);
        let search = call_ids(&frames).remove(0);

        probe.send_raw(&inject(&id, json!([output(&search, "LIS1 at 9:00")])));
        let frames = probe.settle();
        assert_eq!(types(&frames)[0], "response.inject.created");
        assert_ne!(types(&frames).last(), Some(&"response.completed"));
        let book = call_ids(&frames).remove(0);
        // The second call is the next output item of the same response.
        let added = frames
            .iter()
            .find(|frame| frame["type"] == "response.output_item.added")
            .unwrap();
        assert_eq!(added["output_index"], 1);

        probe.send_raw(&inject(&id, json!([output(&book, "booked")])));
        let frames = probe.settle();
        let response = terminal(&frames);
        assert_eq!(answer(response), "Booked.");
        assert_eq!(calls(response).len(), 2);
    }

    #[test]
    fn refusals_hand_the_input_back_with_their_reason() {
        // Paced, so that a response is still streaming after its first events.
        let mut probe = with_beta(script().with_delta_delay(Duration::from_millis(10)));
        let input = json!([output("call_x", "42")]);

        // Unknown: no lane to name, no numbering.
        probe.send_raw(&inject("resp_nope", input.clone()));
        let frames = probe.drain();
        assert_eq!(types(&frames), ["response.inject.failed"]);
        assert_eq!(frames[0]["error"]["code"], "response_not_found");
        assert_eq!(frames[0]["sequence_number"], 0);
        assert!(frames[0].get("stream_id").is_none());
        assert_eq!(frames[0]["input"], input);

        // A plain response (not multi-agent) waits for nothing.
        probe.create(json!({"model":"gpt-5.5","store":false,"stream_id":"plain","input":"Hi"}));
        let started = probe.drain();
        let plain = response_id(&started);
        probe.send_raw(&inject(&plain, input.clone()));
        let frames = probe.settle();
        let failed = frames
            .iter()
            .find(|frame| frame["type"] == "response.inject.failed")
            .unwrap();
        assert_eq!(failed["error"]["code"], "invalid_input");
        assert_eq!(failed["stream_id"], "plain");
        assert!(failed.get("agent").is_none(), "not a multi-agent response");

        // Completed: handed back to go with the next response.create, on its lane.
        probe.send_raw(&inject(&plain, input.clone()));
        let frames = probe.drain();
        assert_eq!(frames[0]["error"]["code"], "response_already_completed");
        assert_eq!(frames[0]["stream_id"], "plain");
        assert_eq!(frames[0]["input"], input);

        // A waiting response refuses what is not an output of its calls.
        let frames = probe.exchange(multi_agent(json!({})));
        let id = response_id(&frames);
        for (bad, param) in [
            (json!([]), Value::Null),
            (json!([user("hello")]), json!("input[0]")),
            (
                json!([output(&call_ids(&frames)[0], "ok"), output("call_x", "?")]),
                json!("input[1]"),
            ),
        ] {
            probe.send_raw(&inject(&id, bad.clone()));
            let frames = probe.drain();
            assert_eq!(frames[0]["error"]["code"], "invalid_input", "{bad}");
            assert_eq!(frames[0]["error"]["param"], param, "{bad}");
            assert_eq!(frames[0]["input"], bad);
        }
        // An injection is atomic: the valid first item of the refused one was not taken.
        probe.send_raw(&inject(&id, json!([output(&call_ids(&frames)[0], "ok")])));
        assert_eq!(types(&probe.drain()), ["response.inject.created"]);
    }

    #[test]
    fn a_response_that_waits_in_vain_completes_and_owes_its_calls() {
        let wait = Duration::from_secs(5);
        let script = script().with_multi_agent(MultiAgentScript::default().wait(wait));
        let mut probe = with_beta(script);
        // Stored: a refused continuation evicts its parent from the lane's cache.
        let stored = |extra: Value| {
            let mut request = multi_agent(extra);
            request["store"] = json!(true);
            request
        };
        probe.create(stored(json!({})));
        let frames = probe.drain();
        let id = response_id(&frames);
        let ids = call_ids(&frames);
        assert_eq!(probe.server.poll_timeout(), Some(T0 + wait));

        // One output comes in time; the other never does.
        probe.send_raw(&inject(&id, json!([output(&ids[0], "14 °C")])));
        assert_eq!(types(&probe.drain()), ["response.inject.created"]);
        probe.advance_to(T0 + wait);
        let frames = probe.drain();
        assert_eq!(types(&frames), ["response.completed"]);
        assert_eq!(calls(terminal(&frames)).len(), 2);

        // Too late: handed back, to be sent with the next request.
        probe.send_raw(&inject(&id, json!([output(&ids[1], "9 °C")])));
        let frames = probe.drain();
        assert_eq!(frames[0]["error"]["code"], "response_already_completed");

        // The next request owes the unanswered call, and only it.
        let refused = probe.exchange(stored(json!({"previous_response_id": id, "input": []})));
        let message = single_error(&refused)["message"].as_str().unwrap();
        assert!(message.contains(&ids[1]), "{message}");
        let twice = probe.exchange(stored(json!({
            "previous_response_id": id,
            "input": [output(&ids[0], "14 °C"), output(&ids[1], "9 °C")],
        })));
        let message = single_error(&twice)["message"].as_str().unwrap();
        assert!(
            message.contains(&ids[0]),
            "the injected output is not owed again: {message}"
        );
        let next = probe.exchange(stored(json!({
            "previous_response_id": id,
            "input": [output(&ids[1], "9 °C")],
        })));
        assert_eq!(answer(terminal(&next)), "Paris is warmer.");
    }

    #[test]
    fn the_error_of_a_multi_agent_request_names_its_agent_and_lane() {
        let mut probe = with_beta(script());
        let frames = probe.exchange(multi_agent(json!({"previous_response_id": "resp_gone"})));
        let error = single_error(&frames);
        assert_eq!(error["code"], "previous_response_not_found");
        assert_eq!(frames[0]["stream_id"], "researcher");
        assert_eq!(frames[0]["agent"], json!({"agent_name": "main"}));
    }
}
