//! Property test: random client traffic (creates on random lanes with random parents, tool
//! outputs, warm-ups, steers, garbage) and random clock jumps never make the mock panic, and
//! what it sends always keeps the protocol's invariants.
//!
//! Tests live in `mod mock` so that `cargo test mock` selects them.

mod mock {
    use core::time::Duration;
    use proptest::prelude::*;
    use responses_ws_core::mock::{
        AgeLimit, Limits, MockConnection, Script, ScriptedCall, TurnFault,
    };
    use responses_ws_core::wire::{EventKind, ServerEvent};
    use responses_ws_core::Instant;
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    const MAX_IN_FLIGHT: usize = 2;

    #[derive(Debug, Clone)]
    enum Step {
        Create {
            lane: u8,
            parent: Option<usize>,
            outputs: bool,
            warm_up: bool,
            store: Option<bool>,
        },
        Steer {
            target: usize,
        },
        Garbage(String),
        Wait(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0u8..6, proptest::option::of(0usize..8), any::<bool>(), prop::bool::weighted(0.1), proptest::option::of(any::<bool>()))
                .prop_map(|(lane, parent, outputs, warm_up, store)| Step::Create { lane, parent, outputs, warm_up, store }),
            1 => (0usize..8).prop_map(|target| Step::Steer { target }),
            1 => ".{0,40}".prop_map(Step::Garbage),
            3 => (0u64..40).prop_map(Step::Wait),
        ]
    }

    fn script() -> Script {
        let mut limits = Limits::default();
        limits.max_in_flight = MAX_IN_FLIGHT;
        limits.max_named_lanes = 3;
        limits.max_queued = 4;
        Script::new()
            .tool_calls([
                ScriptedCall::new("a", r#"{"x":1}"#).with_deltas(2),
                ScriptedCall::new("b", "{}"),
            ])
            .text("answer", 3)
            .with_delta_delay(Duration::from_millis(7))
            .with_steering()
            .with_limits(limits)
            .with_turn_fault(TurnFault::failed(1).times(2))
            .with_turn_fault(TurnFault::error(2, 500, "server_error", "Boom."))
            .with_age_limit(AgeLimit::after_responses(40))
    }

    /// What the checker knows about one lane.
    #[derive(Default)]
    struct LaneView {
        /// The streaming response and its last sequence number.
        streaming: Option<(String, u64)>,
    }

    /// Checks every frame as it arrives.
    #[derive(Default)]
    struct Checker {
        lanes: BTreeMap<Option<String>, LaneView>,
        ids: Vec<String>,
        calls: Vec<String>,
    }

    impl Checker {
        fn frame(&mut self, frame: &str) {
            let event = ServerEvent::from_str(frame).expect("a valid server event");
            assert!(!matches!(event.kind, EventKind::Unknown(_)), "{frame}");
            let lane = event.stream_id.as_deref().map(str::to_owned);
            if let Some(name) = &lane {
                assert!(responses_ws_core::wire::is_valid_stream_id(name), "{frame}");
            }
            match &event.kind {
                EventKind::Error(_) => assert_eq!(event.sequence_number, None, "{frame}"),
                EventKind::SteerAccepted(_)
                | EventKind::SteerPending(_)
                | EventKind::SteerFailed(_) => {}
                EventKind::Created(created) => {
                    let view = self.lanes.entry(lane).or_default();
                    assert!(
                        view.streaming.is_none(),
                        "two responses on one lane: {frame}"
                    );
                    assert_eq!(event.sequence_number, Some(0), "{frame}");
                    view.streaming = Some((created.response.id.clone(), 0));
                    self.ids.push(created.response.id.clone());
                    let streaming = self
                        .lanes
                        .values()
                        .filter(|l| l.streaming.is_some())
                        .count();
                    assert!(streaming <= MAX_IN_FLIGHT, "{frame}");
                }
                _ => {
                    let view = self.lanes.entry(lane).or_default();
                    let (id, last) = view
                        .streaming
                        .as_mut()
                        .expect("an event of a started response");
                    let sequence = event.sequence_number.expect("a sequence number");
                    assert!(sequence > *last, "{frame}");
                    *last = sequence;
                    if let Some(response) = event.response() {
                        assert_eq!(&response.id, id, "{frame}");
                    }
                    if event.is_terminal() {
                        let response = event.response().unwrap();
                        self.calls.extend(
                            response
                                .tool_calls()
                                .filter_map(|c| c.call_id())
                                .map(str::to_owned),
                        );
                        view.streaming = None;
                    }
                }
            }
        }
    }

    fn frame_of(step: &Step, checker: &Checker) -> Option<String> {
        let pick = |list: &[String], index: usize| {
            (!list.is_empty()).then(|| list[index % list.len()].clone())
        };
        match step {
            Step::Create {
                lane,
                parent,
                outputs,
                warm_up,
                store,
            } => {
                let lanes = [
                    None,
                    Some("a"),
                    Some("b"),
                    Some("c"),
                    Some("d"),
                    Some("bad lane!"),
                ];
                let mut create = json!({"type":"response.create","input":"go"});
                if let Some(lane) = lanes[*lane as usize] {
                    create["stream_id"] = json!(lane);
                }
                if let Some(id) = parent.and_then(|index| pick(&checker.ids, index)) {
                    create["previous_response_id"] = json!(id);
                }
                if *outputs {
                    let outputs: Vec<Value> = checker.calls.iter().rev().take(2)
                        .map(|call_id| json!({"type":"function_call_output","call_id":call_id,"output":"ok"}))
                        .collect();
                    create["input"] = json!(outputs);
                }
                if *warm_up {
                    create["generate"] = json!(false);
                }
                if let Some(store) = store {
                    create["store"] = json!(store);
                }
                Some(create.to_string())
            }
            Step::Steer { target } => {
                let target = pick(&checker.ids, *target).unwrap_or_else(|| "resp_x".into());
                Some(
                    json!({"type":"response.steer","previous_response_id":target,"input":"steer"})
                        .to_string(),
                )
            }
            Step::Garbage(text) => Some(text.clone()),
            Step::Wait(_) => None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn random_traffic_keeps_the_invariants(steps in proptest::collection::vec(step(), 1..60)) {
            let mut server = MockConnection::new(script(), 0, Instant::ZERO);
            let mut checker = Checker::default();
            let mut now = Instant::ZERO;
            for step in &steps {
                match (step, frame_of(step, &checker)) {
                    (Step::Wait(ms), _) => {
                        now = now + Duration::from_millis(*ms);
                        server.handle_timeout(now);
                    }
                    (_, Some(frame)) => server.handle_text(&frame, now),
                    (_, None) => {}
                }
                while let Some(frame) = server.poll_transmit() {
                    checker.frame(&frame);
                }
                if server.poll_action().is_some() {
                    prop_assert!(server.is_finished());
                    break;
                }
                if let Some(deadline) = server.poll_timeout() {
                    prop_assert!(deadline > now);
                }
            }
            // Let everything finish: every started response ends.
            while let Some(deadline) = server.poll_timeout().filter(|d| *d < now + Duration::from_secs(60)) {
                now = deadline;
                server.handle_timeout(now);
                while let Some(frame) = server.poll_transmit() {
                    checker.frame(&frame);
                }
            }
            if !server.is_finished() && server.poll_action().is_none() {
                prop_assert!(checker.lanes.values().all(|lane| lane.streaming.is_none()));
            }
        }
    }
}
