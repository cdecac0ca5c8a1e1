//! The mock WebSocket server's conversation rules, driven through its public API with a
//! simulated clock: event sequences, tool loops (chained and full context), the per-lane
//! cache, lanes and their limits, warm-up, timers, steering and the script's JSON form.
//!
//! Tests live in `mod mock` so that `cargo test mock` selects them.

mod mock_support;

mod mock {
    use super::mock_support::*;
    use core::time::Duration;
    use responses_ws_core::mock::{
        Action, AgeLimit, DropFault, Limits, MockConnection, Refusal, Script, ScriptedCall,
        ScriptedCommentary, ServerCost, StopReading, Turn, TurnFault, UpgradeFault,
        DEFAULT_FINAL_TEXT,
    };
    use serde_json::{json, Value};

    /// The 3-step tool loop of these tests: parallel calls, one more call, the answer.
    fn weather_script() -> Script {
        Script::new()
            .turn(
                Turn::tool_calls([
                    ScriptedCall::new("get_weather", r#"{"city":"Paris"}"#).with_deltas(2),
                    ScriptedCall::new("get_weather", r#"{"city":"Tokyo"}"#),
                ])
                .with_reasoning("gAAAAABp-full"),
            )
            .tool_calls([ScriptedCall::new("compare", r#"{"a":14,"b":9}"#)])
            .text("Paris is warmer: 14 °C vs 9 °C in Tokyo.", 3)
    }

    fn first_request() -> Value {
        json!({
            "model": "gpt-5.5",
            "store": false,
            "include": ["reasoning.encrypted_content"],
            "input": [user("Is it warmer in Paris or in Tokyo right now?")],
        })
    }

    #[test]
    fn text_turn_streams_the_exact_event_sequence() {
        let mut probe = Probe::new(Script::new().text("Hello there, nice to meet!", 3));
        let frames = probe.exchange(json!({"model":"gpt-5.5","store":false,"input":"Say hello."}));

        assert_eq!(
            types(&frames),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (expected, frame) in frames.iter().enumerate() {
            assert_eq!(frame["sequence_number"], expected, "{frame}");
            assert!(frame.get("stream_id").is_none(), "default lane: {frame}");
        }
        let deltas: Vec<_> = frames[4..7].iter().map(|f| f["delta"].clone()).collect();
        assert_eq!(deltas, ["Hello th", "ere, nice", " to meet!"]);
        assert_eq!(streamed_text(&frames), "Hello there, nice to meet!");
        assert_eq!(frames[7]["text"], "Hello there, nice to meet!");

        let created = &frames[0]["response"];
        let id = created["id"].as_str().unwrap();
        assert_eq!(id, "resp_00000000000000000000000000000001");
        assert_eq!(
            (created["status"].as_str(), created["model"].as_str()),
            (Some("in_progress"), Some("gpt-5.5"))
        );
        assert_eq!(created["usage"], Value::Null);
        let item_id = frames[2]["item"]["id"].as_str().unwrap();
        assert_eq!(item_id, "msg_00000000000000000000000000000002");
        assert!(frames[3..10]
            .iter()
            .all(|f| f["item_id"] == item_id || f.get("item").is_some()));

        let completed = terminal(&frames);
        assert_eq!(completed["id"], id);
        assert_eq!(completed["status"], "completed");
        assert_eq!(completed["store"], false);
        assert_eq!(answer(completed), "Hello there, nice to meet!");
        assert_eq!(completed["output"][0]["phase"], "final_answer");
        let usage = &completed["usage"];
        assert_eq!(usage["output_tokens"], 7); // 26 bytes / 4, rounded up
        assert_eq!(
            usage["total_tokens"].as_u64(),
            Some(usage["input_tokens"].as_u64().unwrap() + 7)
        );
        assert_eq!(probe.server.poll_action(), None);
    }

    #[test]
    fn chained_tool_loop_reaches_the_final_answer() {
        let mut probe = Probe::new(weather_script());
        let mut request = first_request();
        let mut responses = Vec::new();
        loop {
            let frames = probe.exchange(request.clone());
            let response = terminal(&frames).clone();
            assert_eq!(response["status"], "completed", "{frames:#?}");
            responses.push(response.clone());
            let calls = calls(&response);
            if calls.is_empty() {
                break;
            }
            assert!(responses.len() < 5, "the loop does not end");
            // Only the new items, chained on the previous response.
            request = json!({
                "model": "gpt-5.5",
                "store": false,
                "previous_response_id": response["id"],
                "input": run_tools(&calls),
            });
        }
        assert_eq!(responses.len(), 3);
        assert_eq!(
            answer(&responses[2]),
            "Paris is warmer: 14 °C vs 9 °C in Tokyo."
        );
        assert_eq!(responses[2]["previous_response_id"], responses[1]["id"]);

        let first = &responses[0];
        assert_eq!(first["output"][0]["type"], "reasoning");
        assert_eq!(first["output"][0]["encrypted_content"], "gAAAAABp-full");
        let names: Vec<_> = calls(first)
            .into_iter()
            .map(|(_, name, args)| (name, args))
            .collect();
        assert_eq!(
            names,
            [
                ("get_weather".into(), r#"{"city":"Paris"}"#.into()),
                ("get_weather".into(), r#"{"city":"Tokyo"}"#.to_owned()),
            ]
        );
        let call_ids: Vec<_> = calls(first).into_iter().map(|(id, ..)| id).collect();
        assert!(call_ids[0].starts_with("call_") && call_ids[0] != call_ids[1]);
        assert_eq!(calls(&responses[1])[0].1, "compare");
    }

    #[test]
    fn full_context_tool_loop_works_without_previous_response_id() {
        let mut probe = Probe::new(weather_script());
        let mut history = vec![user("Is it warmer in Paris or in Tokyo right now?")];
        for step in 0.. {
            let frames = probe.exchange(json!({
                "model": "gpt-5.5",
                "store": false,
                "include": ["reasoning.encrypted_content"],
                "input": history,
            }));
            let response = terminal(&frames).clone();
            assert_eq!(response["status"], "completed", "{frames:#?}");
            assert!(response.get("previous_response_id").is_none());
            history.extend(response["output"].as_array().unwrap().iter().cloned());
            let calls = calls(&response);
            if calls.is_empty() {
                assert_eq!(step, 2);
                assert_eq!(
                    answer(&response),
                    "Paris is warmer: 14 °C vs 9 °C in Tokyo."
                );
                break;
            }
            history.extend(run_tools(&calls));
        }
    }

    #[test]
    fn commentary_streams_before_the_calls_of_the_same_response() {
        let script = Script::new()
            .turn(
                Turn::tool_calls([
                    ScriptedCall::new("search_flights", r#"{"to":"LIS"}"#),
                    ScriptedCall::new("get_weather", r#"{"city":"Lisbon"}"#),
                ])
                .with_reasoning("gAAAAB-plan")
                .with_commentary(
                    ScriptedCommentary::new("Let me check the flights.").with_deltas(3),
                ),
            )
            .text("Book TP527.", 1);
        let mut probe = Probe::new(script.clone());
        let frames = probe.exchange(first_request());
        assert_eq!(
            types(&frames)[..13],
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
            ]
        );
        assert_eq!(streamed_text(&frames), "Let me check the flights.");
        assert_eq!(frames[4]["item"]["type"], "message");
        assert_eq!(frames[4]["output_index"], 1);
        assert_eq!(frames[11]["item"]["phase"], "commentary");
        assert_eq!(frames[12]["item"]["type"], "function_call");
        assert_eq!(frames[12]["output_index"], 2);

        let response = terminal(&frames).clone();
        let output = response["output"].as_array().unwrap();
        let kinds: Vec<_> = output.iter().map(|item| item["type"].clone()).collect();
        assert_eq!(
            kinds,
            ["reasoning", "message", "function_call", "function_call"]
        );
        assert_eq!(output[1]["role"], "assistant");
        assert_eq!(output[1]["phase"], "commentary");
        assert_eq!(answer(&response), "Let me check the flights.");
        let calls = calls(&response);
        assert_eq!(calls.len(), 2);

        // Chained: the next response is the answer, so commentary + calls were one response.
        let chained = json!({
            "store": false,
            "previous_response_id": response["id"],
            "input": run_tools(&calls),
        });
        let next = terminal(&probe.exchange(chained)).clone();
        assert_eq!(answer(&next), "Book TP527.");
        assert_eq!(next["output"][0]["phase"], "final_answer");

        // Full context: the replayed commentary and calls also count as one model response.
        let mut history = vec![user("Is it warmer in Paris or in Tokyo right now?")];
        history.extend(output.iter().cloned());
        history.extend(run_tools(&calls));
        let mut fresh = Probe::on_connection(script, 1);
        let full = terminal(&fresh.exchange(json!({"store": false, "input": history}))).clone();
        assert_eq!(answer(&full), "Book TP527.");
    }

    #[test]
    fn missing_tool_output_is_refused_like_http() {
        let mut probe = Probe::new(weather_script());
        let first = terminal(&probe.exchange(first_request())).clone();
        let (call_id, ..) = calls(&first).remove(1);
        let only_paris = &run_tools(&calls(&first))[..1];
        let frames = probe.exchange(json!({
            "store": false,
            "previous_response_id": first["id"],
            "input": only_paris,
        }));
        let error = single_error(&frames);
        assert_eq!(frames[0]["status"], 400);
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["param"], "input");
        assert_eq!(
            error["message"].as_str().unwrap(),
            format!("No tool output found for function call {call_id}.")
        );
    }

    #[test]
    fn unknown_previous_response_id_is_not_found() {
        let mut probe = Probe::new(Script::new());
        let frames =
            probe.exchange(json!({"store":false,"previous_response_id":"resp_gone","input":"Hi"}));
        let error = single_error(&frames);
        assert_eq!(frames[0]["status"], 400);
        assert!(frames[0].get("stream_id").is_none());
        assert_eq!(
            error,
            &json!({"type":"invalid_request_error","code":"previous_response_not_found","message":"Previous response with id 'resp_gone' not found.","param":"previous_response_id"})
        );

        let frames = probe.exchange(
            json!({"stream_id":"lane-1","store":false,"previous_response_id":"resp_gone"}),
        );
        assert_eq!(frames[0]["stream_id"], "lane-1");
        assert_eq!(single_error(&frames)["code"], "previous_response_not_found");
    }

    #[test]
    fn ids_of_another_connection_are_unknown() {
        let mut first = Probe::on_connection(Script::new(), 0);
        let id = terminal(&first.exchange(json!({"store":false,"input":"Hi"})))["id"].clone();
        let mut second = Probe::on_connection(Script::new(), 1);
        let frames =
            second.exchange(json!({"store":false,"previous_response_id":id,"input":"Again"}));
        assert_eq!(single_error(&frames)["code"], "previous_response_not_found");
    }

    #[test]
    fn failed_same_lane_continuation_evicts_the_parent() {
        let script = weather_script().with_turn_fault(TurnFault::failed(1).times(1));
        let mut probe = Probe::new(script);
        let first = terminal(&probe.exchange(first_request())).clone();
        let outputs = run_tools(&calls(&first));
        let continuation = json!({
            "store": false,
            "previous_response_id": first["id"],
            "input": outputs,
        });

        let frames = probe.exchange(continuation.clone());
        assert_eq!(
            types(&frames),
            [
                "response.created",
                "response.in_progress",
                "response.failed"
            ]
        );
        let failed = terminal(&frames);
        assert_eq!(failed["status"], "failed");
        assert_eq!(
            failed["error"],
            json!({"code":"server_error","message":"The model failed to generate a response.","param":null})
        );

        // The blind retry: the parent was evicted.
        let frames = probe.exchange(continuation);
        assert_eq!(single_error(&frames)["code"], "previous_response_not_found");

        // Full context recovers (the fault hit only once).
        let mut history = vec![user("Is it warmer in Paris or in Tokyo right now?")];
        history.extend(first["output"].as_array().unwrap().iter().cloned());
        history.extend(outputs_of(&first));
        let frames = probe.exchange(json!({"store":false,"input":history}));
        assert_eq!(calls(terminal(&frames))[0].1, "compare");
    }

    fn outputs_of(response: &Value) -> Vec<Value> {
        run_tools(&calls(response))
    }

    #[test]
    fn a_failed_fork_keeps_the_parent_and_forks_work_while_cached() {
        let script = Script::new()
            .text("plan", 1)
            .text("critique", 1)
            .with_turn_fault(
                TurnFault::error(1, 500, "server_error", "Boom.")
                    .on_connection(0)
                    .times(1),
            );
        let mut probe = Probe::new(script);
        let plan =
            terminal(&probe.exchange(json!({"stream_id":"planner","store":false,"input":"Plan."})))
                ["id"]
                .clone();

        let frames = probe.exchange(json!({"stream_id":"critic","store":false,"previous_response_id":plan,"input":"Critique."}));
        assert_eq!(frames[0]["stream_id"], "critic");
        assert_eq!(frames[0]["status"], 500);
        assert_eq!(single_error(&frames)["type"], "server_error");

        // The fork failed, the parent stays: both lanes can use it.
        let frames = probe.exchange(json!({"stream_id":"critic","store":false,"previous_response_id":plan,"input":"Again."}));
        assert_eq!(answer(terminal(&frames)), "critique");
        let frames = probe.exchange(json!({"stream_id":"planner","store":false,"previous_response_id":plan,"input":"More."}));
        assert_eq!(terminal(&frames)["previous_response_id"], plan);

        // Now `planner` has moved on: its old response is gone.
        let frames =
            probe.exchange(json!({"stream_id":"other","store":false,"previous_response_id":plan}));
        assert_eq!(single_error(&frames)["code"], "previous_response_not_found");
    }

    #[test]
    fn stored_responses_outlive_the_lane_cache_and_the_connection() {
        let mut probe = Probe::new(Script::new().text("one", 1).text("two", 1));
        let first = terminal(&probe.exchange(json!({"input":"Hi"})))["id"].clone();
        let second =
            terminal(&probe.exchange(json!({"previous_response_id":first,"input":"And?"})))["id"]
                .clone();
        assert_ne!(first, second);
        // `first` is no longer the lane's latest, but it was stored (`store` defaults to true).
        let frames = probe.exchange(json!({"previous_response_id":first,"input":"Branch."}));
        assert_eq!(answer(terminal(&frames)), "two");
        assert_eq!(terminal(&frames)["store"], true);
        assert_eq!(probe.server.store().len(), 3);

        // A driver hands the store on to the next connection.
        let script = Script::new().text("one", 1).text("two", 1);
        let mut next = Probe {
            server: MockConnection::new(script, 1, T0).with_store(probe.server.store().clone()),
            now: T0,
        };
        let frames = next.exchange(json!({"previous_response_id":second,"input":"Later."}));
        assert_eq!(answer(terminal(&frames)), "two");
    }

    #[test]
    fn two_lanes_interleave_and_echo_their_stream_id() {
        let mut probe = Probe::new(Script::new().text("Config drift; missing checks.", 3));
        probe.create(json!({"stream_id":"planner","store":false,"input":"Plan."}));
        probe.create(json!({"stream_id":"research","store":false,"input":"Risks."}));
        let frames = probe.settle();

        assert_eq!(frames.len(), 22);
        let lanes: Vec<_> = frames
            .iter()
            .map(|f| f["stream_id"].as_str().unwrap())
            .collect();
        assert_eq!(&lanes[..4], ["planner", "research", "planner", "research"]);
        for lane in ["planner", "research"] {
            let events = of_lane(&frames, Some(lane));
            assert_eq!(events.len(), 11);
            for (expected, event) in events.iter().enumerate() {
                assert_eq!(event["sequence_number"], expected);
            }
            assert_eq!(events[10]["type"], "response.completed");
        }
        let ids: Vec<_> = frames[..2]
            .iter()
            .map(|f| f["response"]["id"].clone())
            .collect();
        assert_ne!(ids[0], ids[1]);
    }

    #[test]
    fn one_lane_runs_its_requests_in_order() {
        let mut probe = Probe::new(Script::new().text("a", 1).text("b", 1));
        probe.create(json!({"stream_id":"solo","store":false,"input":"1"}));
        probe.create(json!({"stream_id":"solo","store":false,"input":"2"}));
        let frames = probe.settle();
        let lifecycle: Vec<_> = frames
            .iter()
            .filter(|f| {
                matches!(
                    f["type"].as_str(),
                    Some("response.created" | "response.completed")
                )
            })
            .map(|f| {
                (
                    f["type"].as_str().unwrap(),
                    f["response"]["id"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(lifecycle.len(), 4);
        assert_eq!(
            lifecycle[0].1, lifecycle[1].1,
            "the first completes before the second starts"
        );
        assert_eq!(
            (lifecycle[1].0, lifecycle[2].0),
            ("response.completed", "response.created")
        );
    }

    #[test]
    fn the_thirty_third_lane_is_refused_with_its_stream_id() {
        let mut probe = Probe::new(Script::new());
        for lane in 1..=32 {
            let frames =
                probe.exchange(json!({"stream_id":format!("agent_{lane}"),"generate":false}));
            assert_eq!(types(&frames), ["response.created", "response.completed"]);
        }
        let frames = probe.exchange(json!({"stream_id":"agent_33","store":false,"input":"y"}));
        assert_eq!(frames[0]["stream_id"], "agent_33");
        assert_eq!(frames[0]["status"], 400);
        assert_eq!(
            single_error(&frames),
            &json!({"type":"invalid_request_error","code":"websocket_stream_limit_reached","message":"This WebSocket connection has reached its maximum number of distinct stream IDs (32). Reuse an existing stream_id or open a new WebSocket connection.","param":"stream_id"})
        );
        // Known lanes and the default lane still work.
        let frames = probe.exchange(json!({"stream_id":"agent_7","input":"again"}));
        assert_eq!(terminal(&frames)["status"], "completed");
        let frames = probe.exchange(json!({"input":"default"}));
        assert_eq!(answer(terminal(&frames)), DEFAULT_FINAL_TEXT);
    }

    #[test]
    fn invalid_stream_ids_are_refused_without_echo() {
        let mut probe = Probe::new(Script::new());
        for bad in ["bad lane!", "", &"x".repeat(257)] {
            let frames = probe.exchange(json!({"stream_id":bad,"input":"x"}));
            assert!(frames[0].get("stream_id").is_none());
            let error = single_error(&frames);
            assert_eq!(
                (error["code"].as_str(), error["param"].as_str()),
                (Some("invalid_stream_id"), Some("stream_id"))
            );
        }
    }

    #[test]
    fn the_in_flight_limit_queues_the_seventeenth_response() {
        let script = Script::new()
            .text("slow answer", 2)
            .with_delta_delay(Duration::from_millis(10));
        let mut probe = Probe::new(script);
        for lane in 0..17 {
            probe.create(json!({"stream_id":format!("l{lane}"),"input":"go"}));
        }
        let now = probe.drain();
        let started = |frames: &[Value]| {
            frames
                .iter()
                .filter(|f| f["type"] == "response.created")
                .count()
        };
        assert_eq!(started(&now), 16);
        assert!(now.iter().all(|f| f["stream_id"] != "l16"));
        let later = probe.settle();
        let l16 = of_lane(&later, Some("l16"));
        assert_eq!(l16[0]["type"], "response.created");
        let first_completion = later
            .iter()
            .position(|f| f["type"] == "response.completed")
            .unwrap();
        let l16_created = later.iter().position(|f| f["stream_id"] == "l16").unwrap();
        assert!(first_completion < l16_created);
        assert_eq!(
            later
                .iter()
                .filter(|f| f["type"] == "response.completed")
                .count(),
            17
        );
    }

    #[test]
    fn warm_up_then_chained_turn() {
        let mut probe = Probe::new(Script::new().text("first", 1).text("second", 1));
        let frames = probe.exchange(json!({
            "model": "gpt-6-astra",
            "store": false,
            "generate": false,
            "instructions": "You are a planning assistant.",
            "tools": [{"type":"function","name":"get_project_status","parameters":{"type":"object"}}],
            "input": [],
        }));
        assert_eq!(types(&frames), ["response.created", "response.completed"]);
        assert_eq!(
            (
                frames[0]["sequence_number"].as_u64(),
                frames[1]["sequence_number"].as_u64()
            ),
            (Some(0), Some(1))
        );
        let warm = terminal(&frames);
        assert_eq!(warm["output"], json!([]));
        assert_eq!(warm["instructions"], "You are a planning assistant.");
        assert_eq!(warm["tools"][0]["name"], "get_project_status");
        assert_eq!(
            warm["usage"],
            json!({"input_tokens":0,"input_tokens_details":{"cached_tokens":0},"output_tokens":0,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":0})
        );

        let frames = probe.exchange(json!({
            "model": "gpt-6-astra",
            "store": false,
            "previous_response_id": warm["id"],
            "input": "Draft a project plan.",
        }));
        assert_eq!(frames[0]["response"]["previous_response_id"], warm["id"]);
        assert_eq!(
            answer(terminal(&frames)),
            "first",
            "a warm-up is not a model turn"
        );
    }

    #[test]
    fn deltas_come_out_only_as_time_advances() {
        let script = Script::new()
            .text("abc", 3)
            .with_delta_delay(Duration::from_millis(10))
            .with_age_limit(AgeLimit::none());
        let mut probe = Probe::new(script);
        probe.create(json!({"input":"go"}));
        assert_eq!(
            types(&probe.drain()),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added"
            ]
        );
        let ms = |n| T0 + Duration::from_millis(n);
        assert_eq!(probe.server.poll_timeout(), Some(ms(10)));
        probe.advance_to(ms(9));
        assert!(probe.drain().is_empty());
        probe.advance_to(ms(10));
        let frames = probe.drain();
        assert_eq!(
            (types(&frames), frames[0]["delta"].as_str()),
            (vec!["response.output_text.delta"], Some("a"))
        );
        assert_eq!(probe.server.poll_timeout(), Some(ms(20)));
        probe.advance_to(ms(25));
        assert_eq!(probe.drain()[0]["delta"], "b");
        assert_eq!(probe.server.poll_timeout(), Some(ms(30)));
        probe.advance_to(ms(30));
        assert_eq!(
            types(&probe.drain()),
            [
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(probe.server.poll_timeout(), None);
    }

    #[test]
    fn age_limit_fires_unprompted_on_an_idle_connection() {
        let script = Script::new().with_age_limit(AgeLimit::after(Duration::from_secs(30)));
        let mut probe = Probe::new(script);
        probe.exchange(json!({"input":"Hi"}));
        assert_eq!(
            probe.server.poll_timeout(),
            Some(T0 + Duration::from_secs(30))
        );
        probe.advance_to(T0 + Duration::from_secs(29));
        assert!(probe.drain().is_empty());
        probe.advance_to(T0 + Duration::from_secs(30));
        let frames = probe.drain();
        assert!(frames[0].get("stream_id").is_none());
        assert_eq!(frames[0]["status"], 400);
        assert_eq!(
            single_error(&frames)["code"],
            "websocket_connection_limit_reached"
        );
        let Some(Action::Close { code, .. }) = probe.action() else {
            panic!("no close")
        };
        assert_eq!(code.0, 1001);
        assert!(probe.server.is_finished());
        assert_eq!(probe.action(), None);
        probe.create(json!({"input":"too late"}));
        assert!(probe.drain().is_empty());
    }

    #[test]
    fn age_limit_waits_for_running_responses() {
        let script = Script::new()
            .text("long answer", 4)
            .with_delta_delay(Duration::from_secs(10))
            .with_age_limit(AgeLimit::after(Duration::from_secs(15)));
        let mut probe = Probe::new(script);
        probe.create(json!({"input":"Hi"}));
        let mut frames = probe.drain();
        while let Some(deadline) = probe.server.poll_timeout() {
            probe.advance_to(deadline);
            frames.extend(probe.drain());
        }
        let tail: Vec<_> = types(&frames).into_iter().rev().take(2).collect();
        assert_eq!(tail, ["error", "response.completed"]);
        assert!(probe.action().is_some());
    }

    #[test]
    fn age_limit_in_reply_after_two_responses() {
        let script = Script::new().with_age_limit(AgeLimit::after_responses(2).in_reply());
        let mut probe = Probe::new(script);
        for _ in 0..2 {
            assert_eq!(
                terminal(&probe.exchange(json!({"input":"Hi"})))["status"],
                "completed"
            );
        }
        assert_eq!(probe.server.poll_timeout(), None);
        assert_eq!(probe.action(), None, "nothing unprompted");
        let frames = probe.exchange(json!({"stream_id":"late","input":"Hi"}));
        assert!(frames[0].get("stream_id").is_none(), "connection-scoped");
        assert_eq!(
            single_error(&frames)["code"],
            "websocket_connection_limit_reached"
        );
        assert!(matches!(probe.action(), Some(Action::Close { .. })));
    }

    #[test]
    fn bad_frames_get_error_events_and_the_connection_goes_on() {
        let mut probe = Probe::new(Script::new());
        for (frame, code) in [
            ("not json", "invalid_json"),
            (r#"{"type":"response.cancel"}"#, "invalid_event"),
            (r#"{"type":"response.create","input":5}"#, "invalid_event"),
            ("[]", "invalid_event"),
            (
                r#"{"type":"response.inject","response_id":"r","input":[]}"#,
                "unsupported_event_type",
            ),
        ] {
            probe.send_raw(frame);
            let frames = probe.drain();
            let error = single_error(&frames);
            assert_eq!(
                (error["type"].as_str(), error["code"].as_str()),
                (Some("invalid_request_error"), Some(code)),
                "{frame}"
            );
        }
        probe.server.handle_binary(&[1, 2, 3], probe.now);
        assert_eq!(single_error(&probe.drain())["code"], "invalid_event");
        assert_eq!(
            terminal(&probe.exchange(json!({"input":"fine"})))["status"],
            "completed"
        );
    }

    #[test]
    fn steering_is_refused_unless_the_script_enables_it() {
        let script = Script::new()
            .text("abc", 3)
            .with_delta_delay(Duration::from_millis(10));
        let mut probe = Probe::new(script);
        probe.create(json!({"stream_id":"s","input":"go"}));
        let started = probe.drain();
        let id = started[0]["response"]["id"].clone();
        probe.send_raw(
            &json!({"type":"response.steer","previous_response_id":id,"input":"Shorter."})
                .to_string(),
        );
        let frames = probe.drain();
        assert_eq!(types(&frames), ["response.steer.failed"]);
        assert_eq!(
            (
                frames[0]["stream_id"].as_str(),
                frames[0]["sequence_number"].as_u64()
            ),
            (Some("s"), Some(4))
        );
        assert_eq!(frames[0]["error"]["code"], "steering_not_supported");
        assert_eq!(frames[0]["steer"]["input"], "Shorter.");
        let rest = probe.settle();
        assert_eq!(
            rest[0]["sequence_number"], 5,
            "the response's numbering goes on"
        );

        probe.send_raw(
            &json!({"type":"response.steer","previous_response_id":"resp_nope","input":"x"})
                .to_string(),
        );
        assert_eq!(probe.drain()[0]["error"]["code"], "response_not_found");
    }

    #[test]
    fn accepted_steer_starts_a_successor() {
        let script = Script::new()
            .text("first", 2)
            .text("steered", 1)
            .with_delta_delay(Duration::from_millis(10))
            .with_steering();
        let mut probe = Probe::new(script);
        probe.create(json!({"model":"gpt-6-astra","instructions":"Plan.","input":"go"}));
        let id = probe.drain()[0]["response"]["id"].clone();
        probe.send_raw(
            &json!({"type":"response.steer","previous_response_id":id,"input":"Smaller scope."})
                .to_string(),
        );
        let frames = probe.settle();
        assert_eq!(frames[0]["type"], "response.steer.accepted");
        assert_eq!(frames[0]["steer"]["previous_response_id"], id);
        let completed = frames
            .iter()
            .position(|f| f["type"] == "response.completed")
            .unwrap();
        let successor = &frames[completed + 1];
        assert_eq!(successor["type"], "response.created");
        assert_eq!(successor["response"]["previous_response_id"], id);
        assert_eq!(successor["response"]["instructions"], "Plan.");
        assert_eq!(answer(terminal(&frames)), "steered");

        probe.send_raw(
            &json!({"type":"response.steer","previous_response_id":id,"input":"late"}).to_string(),
        );
        assert_eq!(
            probe.drain()[0]["error"]["code"],
            "response_already_completed"
        );
    }

    #[test]
    fn steer_of_a_tool_call_turn_is_pending() {
        let script = Script::new()
            .tool_calls([ScriptedCall::new(
                "get_project_status",
                r#"{"project":"x"}"#,
            )])
            .with_delta_delay(Duration::from_millis(10))
            .with_steering();
        let mut probe = Probe::new(script);
        probe.create(json!({"input":"go"}));
        let id = probe.drain()[0]["response"]["id"].clone();
        probe.send_raw(
            &json!({"type":"response.steer","previous_response_id":id,"input":"Hurry."})
                .to_string(),
        );
        let frames = probe.settle();
        let pending = frames.last().unwrap();
        assert_eq!(pending["type"], "response.steer.pending");
        assert_eq!(pending["reason"], "waiting_for_required_input");
        let call_id = calls(terminal(&frames))[0].0.clone();
        assert_eq!(
            pending["required_input"],
            json!([{"type":"function_call_output","call_id":call_id,"name":"get_project_status"}])
        );
        // After `response.completed`, in the response's numbering.
        let completed = &frames[frames.len() - 2];
        assert_eq!(completed["type"], "response.completed");
        assert_eq!(pending["sequence_number"].as_u64(), Some(8));
        assert_eq!(completed["sequence_number"].as_u64(), Some(7));
    }

    #[test]
    fn faults_drop_and_stop_reading_by_connection() {
        let script = Script::new()
            .with_drop(DropFault::after_events(3).on_connection(0))
            .with_stop_reading(StopReading::after_frames(1));

        let mut first = Probe::on_connection(script.clone(), 0);
        assert!(first.server.is_reading());
        let frames = first.exchange(json!({"input":"Hi"}));
        assert!(!first.server.is_reading());
        assert_eq!(
            types(&frames),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added"
            ]
        );
        assert_eq!(first.action(), Some(Action::Drop));
        assert!(first.server.is_finished());

        let mut second = Probe::on_connection(script, 1);
        assert_eq!(
            terminal(&second.exchange(json!({"input":"Hi"})))["status"],
            "completed"
        );
        assert_eq!(second.action(), None);
    }

    #[test]
    fn error_fault_never_starts_the_response() {
        let script = Script::new().with_turn_fault(
            TurnFault::error(0, 429, "rate_limit_exceeded", "Slow down.").times(1),
        );
        let mut probe = Probe::new(script);
        let frames = probe.exchange(json!({"stream_id":"a","input":"Hi"}));
        assert_eq!(
            (
                frames[0]["status"].as_u64(),
                frames[0]["stream_id"].as_str()
            ),
            (Some(429), Some("a"))
        );
        assert_eq!(
            single_error(&frames),
            &json!({"type":"invalid_request_error","code":"rate_limit_exceeded","message":"Slow down.","param":null})
        );
        assert_eq!(
            terminal(&probe.exchange(json!({"stream_id":"a","input":"Hi"})))["status"],
            "completed"
        );
    }

    #[test]
    fn traffic_counts_frames_and_bytes() {
        let mut probe = Probe::new(Script::new().text("Hi!", 1));
        let request = create(json!({"input":"Hello"}));
        probe.send_raw(&request);
        let frames: Vec<String> = std::iter::from_fn(|| probe.server.poll_transmit()).collect();
        let traffic = probe.server.traffic();
        assert_eq!(
            (traffic.frames_received, traffic.bytes_received),
            (1, request.len() as u64)
        );
        assert_eq!(traffic.frames_sent, frames.len() as u64);
        assert_eq!(
            traffic.bytes_sent,
            frames.iter().map(|f| f.len() as u64).sum::<u64>()
        );
    }

    #[test]
    fn script_round_trips_through_json() {
        let mut limits = Limits::default();
        limits.max_in_flight = 4;
        let script = Script::new()
            .turn(
                Turn::sequential_tool_calls([
                    ScriptedCall::new("a", "{}"),
                    ScriptedCall::new("b", r#"{"x":1}"#).with_deltas(3),
                ])
                .with_reasoning("enc")
                .with_commentary("One at a time."),
            )
            .text("done", 2)
            .with_delta_delay(Duration::from_millis(15))
            .with_steering()
            .with_limits(limits)
            .with_turn_fault(TurnFault::failed(1).times(1).on_connection(0))
            .with_turn_fault(TurnFault::error(2, 503, "server_is_overloaded", "Busy."))
            .with_age_limit(AgeLimit::after_responses(5).in_reply())
            .with_drop(DropFault::after_events(7))
            .with_upgrade_refusal(UpgradeFault::new(Refusal::RateLimited {
                retry_after_secs: 3,
            }))
            .with_stop_reading(StopReading::after_frames(2))
            .with_server_cost(ServerCost::new(
                Duration::from_micros(1500),
                Duration::from_millis(20),
            ));

        let json = script.to_json();
        assert_eq!(Script::from_json(&json).unwrap(), script);
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["delta_delay_ms"], 15);
        assert_eq!(value["turns"][0]["type"], "tool_calls");
        assert_eq!(value["turns"][0]["parallel"], false);
        assert_eq!(
            value["turns"][0]["commentary"],
            json!({"text":"One at a time.","deltas":1})
        );
        assert_eq!(
            value["server_cost"],
            json!({"per_input_kib_ms":1.5,"stored_lookup_ms":20})
        );
        assert_eq!(value["faults"]["turns"][1]["outcome"]["type"], "error");
        assert_eq!(value["faults"]["age_limit"]["notice"], "in_reply");
        assert_eq!(
            value["faults"]["refuse_upgrade"]["refusal"],
            json!({"type":"rate_limited","retry_after_secs":3})
        );

        let default = Script::from_json("{}").unwrap();
        assert_eq!(default, Script::new());
        assert_eq!(
            default.faults.age_limit.after,
            Some(Duration::from_secs(3600))
        );
        assert!(Script::from_json(r#"{"turns":[{"type":"dance"}]}"#).is_err());
    }
}
