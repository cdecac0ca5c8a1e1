//! The benchmark's HTTP modes, through `async-openai` (what Rust users pick today):
//! `POST /v1/responses` with SSE streaming, on reqwest's HTTP/1.1 keep-alive pool, either with
//! `store: false` and the full context every turn, or with `store: true` and
//! `previous_response_id` (the mock keeps stored responses).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_openai::config::OpenAIConfig;
use async_openai::types::responses::{
    CreateResponse, IncludeEnum, InputItem, InputParam, OutputItem, ResponseStreamEvent, Tool,
};
use async_openai::Client;
use futures_util::StreamExt;
use serde_json::json;

use super::rollout::{Rollout, INSTRUCTIONS, MODEL, PROMPT};
use super::Run;

/// The pause between the end of a response body and the next request (see [`run_once`]),
/// not counted in the measured time.
pub(crate) const POOL_PAUSE: Duration = Duration::from_millis(2);

/// How the HTTP client chains its turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chaining {
    /// `store: false`, the whole conversation as `input` every turn.
    FullContext,
    /// `store: true`, `previous_response_id` and only the new items.
    PreviousResponseId,
}

/// A JSON value as an async-openai input item.
fn input_item(value: serde_json::Value) -> Result<InputItem, String> {
    serde_json::from_value(value).map_err(|error| format!("building an input item: {error}"))
}

/// An output item as an input item (for the full context).
fn replayed(item: &OutputItem) -> Result<InputItem, String> {
    let value = serde_json::to_value(item).map_err(|error| error.to_string())?;
    input_item(value)
}

/// The rollout's tools as async-openai tools.
fn tools() -> Result<Vec<Tool>, String> {
    let value = serde_json::to_value(Rollout::tools()).map_err(|error| error.to_string())?;
    serde_json::from_value(value).map_err(|error| format!("converting the tools: {error}"))
}

/// A reqwest client for loopback: no system proxy, TCP_NODELAY, the default keep-alive pool.
pub(crate) fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .build()
        .map_err(|error| format!("building the HTTP client: {error}"))
}

/// One run of the rollout over HTTP via `proxy`.
pub(crate) async fn run_once(
    proxy: SocketAddr,
    rollout: Rollout,
    chaining: Chaining,
) -> Result<Run, String> {
    let started = Instant::now();
    let config = OpenAIConfig::new()
        .with_api_base(format!("http://{proxy}/v1"))
        .with_api_key("sk-bench");
    let client = Client::with_config(config).with_http_client(http_client()?);
    let tools = tools()?;
    let mut history = vec![input_item(json!({ "role": "user", "content": PROMPT }))?];
    let mut input = history.clone();
    let mut previous_response_id = None;
    let mut turns = Vec::new();
    let mut tool_calls = 0u32;
    let mut paused = Duration::ZERO;
    for _ in 0..rollout.responses() + 1 {
        let request = CreateResponse {
            model: Some(MODEL.into()),
            instructions: Some(INSTRUCTIONS.into()),
            input: InputParam::Items(std::mem::take(&mut input)),
            tools: Some(tools.clone()),
            parallel_tool_calls: Some(true),
            store: Some(chaining == Chaining::PreviousResponseId),
            include: Some(vec![IncludeEnum::ReasoningEncryptedContent]),
            previous_response_id: previous_response_id.take(),
            ..CreateResponse::default()
        };
        let sent = Instant::now();
        let mut stream = client
            .responses()
            .create_stream(request)
            .await
            .map_err(|error| format!("POST /v1/responses: {error}"))?;
        let mut completed = None;
        // Read to the end of the body, so that the connection goes back to the pool.
        while let Some(event) = stream.next().await {
            match event.map_err(|error| format!("SSE stream: {error}"))? {
                ResponseStreamEvent::ResponseCompleted(event) => completed = Some(event.response),
                ResponseStreamEvent::ResponseFailed(event) => {
                    return Err(format!("response failed: {:?}", event.response.error))
                }
                _ => {}
            }
        }
        turns.push(sent.elapsed());
        // hyper hands the connection back to reqwest's pool from a task of its own once the
        // body has ended; a request made before that task ran opens a second connection (a
        // new TCP handshake). Real agents spend time in their tools here; the benchmark
        // pauses briefly instead and leaves the pause out of the measured time.
        let pause = Instant::now();
        tokio::time::sleep(POOL_PAUSE).await;
        paused += pause.elapsed();
        let response = completed.ok_or("the stream ended without response.completed")?;
        let mut outputs = Vec::new();
        for item in &response.output {
            if let OutputItem::FunctionCall(call) = item {
                let output = rollout.tool_output(&call.name, &call.arguments);
                outputs.push(input_item(json!({
                    "type": "function_call_output",
                    "call_id": call.call_id,
                    "output": output,
                }))?);
            }
        }
        if outputs.is_empty() {
            let final_text = response.output_text().unwrap_or_default();
            return Ok(Run {
                total: started.elapsed().saturating_sub(paused),
                turns,
                tool_calls,
                final_text,
            });
        }
        tool_calls += u32::try_from(outputs.len()).unwrap_or(u32::MAX);
        match chaining {
            Chaining::FullContext => {
                for item in &response.output {
                    history.push(replayed(item)?);
                }
                history.extend(outputs);
                input = history.clone();
            }
            Chaining::PreviousResponseId => {
                previous_response_id = Some(response.id.clone());
                input = outputs;
            }
        }
    }
    Err(format!(
        "no final answer after {} responses",
        rollout.responses() + 1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use responses_ws_core::mock::{HttpMock, HttpReply};
    use responses_ws_core::Instant as CoreInstant;

    /// Every event our mock streams over HTTP parses as async-openai's typed event, and a
    /// replayed function call and reasoning item keep their type.
    #[test]
    fn async_openai_reads_the_mock_stream() {
        let rollout = Rollout {
            tool_calls: 3,
            tool_output_bytes: 100,
            delta_delay: Duration::ZERO,
            server_cost: Default::default(),
        };
        let mut mock = HttpMock::new(rollout.script(), 0);
        let body = json!({
            "model": MODEL, "stream": true, "store": false,
            "include": ["reasoning.encrypted_content"], "input": PROMPT,
        });
        let HttpReply::Stream(stream) = mock.respond(&body.to_string(), CoreInstant::ZERO) else {
            panic!("not streamed");
        };
        let mut completed = None;
        for event in &stream.events {
            let parsed: ResponseStreamEvent = serde_json::from_str(&event.data)
                .unwrap_or_else(|error| panic!("{}: {error}\n{}", event.event_type, event.data));
            if let ResponseStreamEvent::ResponseCompleted(done) = parsed {
                completed = Some(done.response);
            }
        }
        let response = completed.expect("completed");
        assert_eq!(response.output.len(), 2); // reasoning + one call
        for item in &response.output {
            let replayed = serde_json::to_value(replayed(item).unwrap()).unwrap();
            let original = serde_json::to_value(item).unwrap();
            assert_eq!(replayed["type"], original["type"], "{replayed}");
        }
        assert!(tools().unwrap().len() == 2);
    }
}
