//! The pool's handles over real TCP against the mock server, under every runtime: a turn's
//! events as a stream, a full pool refusing `try_turn` with the request handed back, a
//! waiting `turn` cancelled by dropping it (it leaves the queue, nothing is sent), steering
//! and forking, a dropped driver failing the waiters instead of hanging them, and a running
//! turn dropped with its tool calls open (its lane freed, the outputs sent with the next turn),
//! and MCP approval requests in the tool loop (answered by the application, then continued).

mod support;

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt;
use responses_ws_futures::pool::{Error, Pool, PoolBuilder, PoolDriver, PoolError};
use responses_ws_futures::responses_ws_core::wire::EventKind;
use responses_ws_futures::{runtime, Config, ResponseCreate, SessionEvent, ToolCall};
use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};
use support::{on_every_runtime, Rt};

on_every_runtime!(
    a_turns_events_stream_to_its_end,
    a_full_pool_hands_try_turn_its_request_back,
    a_waiting_turn_dropped_leaves_the_queue,
    fork_starts_from_the_context_and_steer_needs_a_running_response,
    a_dropped_driver_fails_the_waiters,
    an_unreachable_server_fails_the_waiting_turns_with_the_cause,
    a_turn_dropped_with_its_calls_open_frees_the_lane_and_the_outputs_go_next,
    mcp_approvals_stop_the_tool_loop_and_continue_once_given,
);

fn builder(rt: Rt, url: &str) -> PoolBuilder {
    let config = Config::new(url).unwrap();
    let config = match rt {
        Rt::AsyncStd => config.runtime(runtime::AsyncStd),
        Rt::Smol => config.runtime(runtime::Smol),
        Rt::Tokio => config.runtime(runtime::Tokio),
    };
    Pool::builder(config)
}

fn spawn(rt: Rt, driver: PoolDriver) {
    match rt {
        Rt::AsyncStd => drop(async_std::task::spawn(driver)),
        Rt::Smol => smol::spawn(driver).detach(),
        Rt::Tokio => drop(tokio::spawn(driver)),
    }
}

fn ask(text: &str) -> ResponseCreate {
    ResponseCreate::new("gpt-test").input(text)
}

async fn a_turns_events_stream_to_its_end(rt: Rt) {
    let server = MockServer::start_in_thread(Script::new().text("Hello there, agent!", 4)).unwrap();
    let (pool, driver) = builder(rt, &server.url()).build().unwrap();
    spawn(rt, driver);
    let agent = pool.conversation().unwrap();
    let mut turn = agent.turn(ask("Hi")).await.unwrap();
    let mut text = String::new();
    let mut completed = 0;
    while let Some(event) = turn.next().await {
        match event.unwrap() {
            SessionEvent::Stream { event, .. } => {
                if let EventKind::OutputTextDelta(delta) = &event.decoded().kind {
                    text.push_str(&delta.delta);
                }
            }
            SessionEvent::Completed { .. } => completed += 1,
            _ => {}
        }
    }
    assert_eq!(text, "Hello there, agent!");
    assert_eq!(completed, 1);
    assert!(turn.next().await.is_none(), "the stream stays over");
    // The second turn chains from the first on the same lane.
    let second = agent
        .turn(ask("Again"))
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();
    assert_eq!(second.all_output_text(), "Hello there, agent!");
    assert_eq!(agent.ledger().unwrap().items().len(), 4);
    pool.close().await;
    server.shutdown();
}

async fn a_full_pool_hands_try_turn_its_request_back(rt: Rt) {
    // One connection, one turn at a time: the first turn holds it.
    let script = Script::new()
        .text("Slow answer", 5)
        .with_delta_delay(Duration::from_millis(50));
    let server = MockServer::start_in_thread(script).unwrap();
    let (pool, driver) = builder(rt, &server.url())
        .max_connections(1)
        .max_turns_per_connection(1)
        .max_waiting(1)
        .build()
        .unwrap();
    spawn(rt, driver);
    let (first, second, third) = (
        pool.conversation().unwrap(),
        pool.conversation().unwrap(),
        pool.conversation().unwrap(),
    );
    let running = first.try_turn(ask("one")).unwrap();
    let refused = second.try_turn(ask("two")).unwrap_err();
    assert!(refused.is_overloaded(), "{refused}");
    assert_eq!(refused.into_request().input, ask("two").input);
    // `turn` waits instead, up to `max_waiting` turns; one more is refused.
    let mut waiting = pin!(second.turn(ask("two")));
    assert!(poll_fn(|cx| Poll::Ready(waiting.as_mut().poll(cx).is_pending())).await);
    let Err(Error::Rejected(refused)) = third.turn(ask("three")).await else {
        panic!("a full queue refuses");
    };
    assert!(matches!(
        refused.error(),
        PoolError::Overloaded {
            waiting: 1,
            limit: 1
        }
    ));
    assert_eq!(pool.stats().turns_waiting, 1);
    running.finish().await.unwrap();
    let answer = waiting.await.unwrap().finish().await.unwrap();
    assert_eq!(answer.all_output_text(), "Slow answer");
    pool.close().await;
    server.shutdown();
}

async fn a_waiting_turn_dropped_leaves_the_queue(rt: Rt) {
    let script = Script::new()
        .text("Slow answer", 5)
        .with_delta_delay(Duration::from_millis(50));
    let server = MockServer::start_in_thread(script).unwrap();
    let (pool, driver) = builder(rt, &server.url())
        .max_connections(1)
        .max_turns_per_connection(1)
        .build()
        .unwrap();
    spawn(rt, driver);
    let (first, second) = (pool.conversation().unwrap(), pool.conversation().unwrap());
    let running = first.turn(ask("one")).await.unwrap();
    {
        let mut waiting = pin!(second.turn(ask("two")));
        assert!(poll_fn(|cx| Poll::Ready(waiting.as_mut().poll(cx).is_pending())).await);
        assert_eq!(pool.stats().turns_waiting, 1);
    }
    // Dropped: out of the queue, and the conversation is free for another turn.
    assert_eq!(pool.stats().turns_waiting, 0);
    running.finish().await.unwrap();
    let answer = second
        .turn(ask("three"))
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();
    assert_eq!(answer.all_output_text(), "Slow answer");
    let stats = pool.stats();
    assert_eq!(
        stats.turns_completed_total, 2,
        "the cancelled turn never ran: {stats:?}"
    );
    pool.close().await;
    // Two requests reached the server: the cancelled turn sent nothing.
    assert_eq!(server.traffic().frames_received, 2);
    server.shutdown();
}

async fn fork_starts_from_the_context_and_steer_needs_a_running_response(rt: Rt) {
    let server = MockServer::start_in_thread(Script::new().text("Noted.", 1)).unwrap();
    let (pool, driver) = builder(rt, &server.url()).build().unwrap();
    spawn(rt, driver);
    let agent = pool.conversation().unwrap();
    let refused = agent.steer("faster").unwrap_err();
    assert!(
        matches!(refused.error(), PoolError::Session(_)),
        "{refused}"
    );
    agent
        .turn(ask("Remember 7."))
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();
    let fork = agent.fork().unwrap();
    assert_ne!(fork.id(), agent.id());
    assert_eq!(fork.ledger(), agent.ledger());
    fork.turn(ask("And 8."))
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();
    assert_eq!(fork.ledger().unwrap().items().len(), 4);
    assert_eq!(
        agent.ledger().unwrap().items().len(),
        2,
        "the original goes on alone"
    );
    pool.close().await;
    server.shutdown();
}

async fn a_dropped_driver_fails_the_waiters(rt: Rt) {
    let server = MockServer::start_in_thread(Script::new().text("Hi", 1)).unwrap();
    let (pool, driver) = builder(rt, &server.url()).build().unwrap();
    let agent = pool.conversation().unwrap();
    // Never spawned: the turn gets its lane (on a connection being dialed) and waits.
    let waiter = rt.spawn(async move { agent.turn(ask("Hi")).await?.finish().await });
    rt.sleep(Duration::from_millis(20)).await;
    drop(driver);
    assert!(matches!(waiter.await, Err(Error::DriverGone)));
    pool.close().await;
    server.shutdown();
}

async fn an_unreachable_server_fails_the_waiting_turns_with_the_cause(rt: Rt) {
    // A port nobody listens on: every dial fails, the pool backs off, the turn times out.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}/v1/responses");
    let (pool, driver) = builder(rt, &url)
        .max_wait(Duration::from_millis(300))
        .build()
        .unwrap();
    spawn(rt, driver);
    let agent = pool.conversation().unwrap();
    let error = match agent.turn(ask("Hello?")).await {
        Ok(turn) => turn.finish().await.unwrap_err(),
        Err(error) => error,
    };
    let stats = pool.stats();
    assert!(stats.connections_failed_total >= 1, "{stats:?}");
    assert!(stats.throttled, "the pool backs off: {stats:?}");
    let text = error.to_string();
    assert!(
        text.contains("127.0.0.1"),
        "the cause names the address: {text}"
    );
    pool.close().await;
}

async fn a_turn_dropped_with_its_calls_open_frees_the_lane_and_the_outputs_go_next(rt: Rt) {
    let script = Script::new()
        .tool_calls([ScriptedCall::new("lookup", r#"{"q":"weather"}"#)])
        .text("It is sunny.", 2);
    let server = MockServer::start_in_thread(script).unwrap();
    // One lane in all: a turn that kept it would stall every other conversation.
    let (pool, driver) = builder(rt, &server.url())
        .max_connections(1)
        .max_turns_per_connection(1)
        .build()
        .unwrap();
    spawn(rt, driver);
    let (a, b) = (pool.conversation().unwrap(), pool.conversation().unwrap());
    let mut turn = a.turn(ask("Weather?")).await.unwrap();
    let call = loop {
        if let SessionEvent::ToolCalls { calls, .. } = turn.next().await.unwrap().unwrap() {
            break calls[0].clone();
        }
    };
    drop(turn);
    assert_eq!(a.pending_tool_calls(), std::slice::from_ref(&call));

    let handler = |call: ToolCall| async move { call.call_id };
    let answer = b.run_tool_loop(ask("Weather?"), handler).await.unwrap();
    assert_eq!(answer.all_output_text(), "It is sunny.", "b got the lane");

    let refused = a.turn(ask("And tomorrow?")).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Rejected(r) if matches!(r.error(), PoolError::ToolCallsOpen(_))),
        "{refused:?}"
    );
    a.submit_tool_output(&call.call_id, "sunny").unwrap();
    assert!(a.pending_tool_calls().is_empty());
    let answer = a.continue_tool_loop(handler).await.unwrap();
    assert_eq!(answer.all_output_text(), "It is sunny.");
    let context = a.ledger().unwrap();
    let outputs = context
        .items()
        .iter()
        .filter(|item| item.call_id() == Some(call.call_id.as_str()))
        .count();
    assert_eq!(outputs, 2, "the call and its one output");
    assert_eq!(pool.stats().turns_failed_total, 0);
    pool.close().await;
    server.shutdown();
}

async fn mcp_approvals_stop_the_tool_loop_and_continue_once_given(rt: Rt) {
    let script = Script::new()
        .tool_calls([
            ScriptedCall::new("lookup", r#"{"q":"branch"}"#),
            ScriptedCall::mcp_approval("git", "push", r#"{"branch":"main"}"#),
        ])
        .text("Pushed.", 1);
    let server = MockServer::start_in_thread(script).unwrap();
    let (pool, driver) = builder(rt, &server.url()).build().unwrap();
    spawn(rt, driver);
    let agent = pool.conversation().unwrap();
    let handler = |call: ToolCall| async move { format!("main ({})", call.name) };
    // As `Connection::run_tool_loop`: the function call is answered, the approval comes back.
    let error = agent
        .run_tool_loop(ask("Push it."), handler)
        .await
        .unwrap_err();
    let Error::ApprovalRequired(approvals) = error else {
        panic!("expected approvals, got {error:?}");
    };
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].name, "push");
    assert_eq!(agent.pending_tool_calls(), approvals);
    agent
        .submit_approval(&approvals[0].call_id, true, None)
        .unwrap();
    let answer = agent.continue_tool_loop(handler).await.unwrap();
    assert_eq!(answer.all_output_text(), "Pushed.");
    let context = serde_json::to_value(agent.ledger().unwrap().items()).unwrap();
    let answered = context
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| {
            item["type"] == "mcp_approval_response" || item["type"] == "function_call_output"
        })
        .count();
    assert_eq!(answered, 2, "{context}");
    assert_eq!(pool.stats().turns_failed_total, 0);
    pool.close().await;
    server.shutdown();
}
