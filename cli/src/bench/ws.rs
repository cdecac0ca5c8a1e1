//! The benchmark's WebSocket mode: our tokio adapter, one connection, incremental turns
//! (`previous_response_id` on the connection-local cache, `store: false`), through the proxy,
//! with permessage-deflate or without.

use std::net::SocketAddr;
use std::time::Instant;

use responses_ws_core::session::ToolCall;
use responses_ws_core::wire::{Includable, Input, ResponseCreate, Tool};
use responses_ws_tokio::{Config, Connection};

use super::rollout::{Rollout, INSTRUCTIONS, MODEL, PROMPT};
use super::Run;
use crate::agent::{self, Limits, Quiet};
use crate::tools::Toolbox;

/// The rollout's tools, answered with its deterministic outputs.
#[derive(Debug)]
pub(crate) struct RolloutTools(pub(crate) Rollout);

impl Toolbox for RolloutTools {
    fn declarations(&self) -> Vec<Tool> {
        Rollout::tools()
    }

    fn run(&mut self, call: &ToolCall) -> String {
        self.0.tool_output(&call.name, &call.arguments)
    }
}

/// One run of the rollout over WebSocket mode via `proxy`, offering permessage-deflate or not.
pub(crate) async fn run_once(
    proxy: SocketAddr,
    rollout: Rollout,
    deflate: bool,
) -> Result<Run, String> {
    let url = format!("ws://{proxy}/v1/responses");
    let started = Instant::now();
    let config = Config::new(&url)
        .map_err(|error| error.to_string())?
        .api_key("sk-bench")
        .deflate(deflate);
    let mut conn = Connection::connect(config)
        .await
        .map_err(|error| error.to_string())?;
    let agreed = conn.handshake_headers().iter().any(|header| {
        header.name.eq_ignore_ascii_case("sec-websocket-extensions")
            && header.value.starts_with(b"permessage-deflate")
    });
    if agreed != deflate {
        return Err(format!(
            "permessage-deflate {} though it was {}",
            if deflate { "refused" } else { "agreed" },
            if deflate { "offered" } else { "not offered" }
        ));
    }
    let mut tools = RolloutTools(rollout);
    let request = ResponseCreate {
        model: Some(MODEL.into()),
        instructions: Some(INSTRUCTIONS.into()),
        input: Some(Input::Text(PROMPT.into())),
        tools: Some(tools.declarations()),
        parallel_tool_calls: Some(true),
        store: Some(false),
        include: Some(vec![Includable::ReasoningEncryptedContent]),
        ..ResponseCreate::default()
    };
    let outcome = agent::run(
        &mut conn,
        request,
        &mut tools,
        &mut Quiet,
        Limits::default(),
    )
    .await;
    let total = started.elapsed();
    let _ = conn.close().await;
    let outcome = outcome.map_err(|error| error.to_string())?;
    Ok(Run {
        total,
        turns: outcome.turns.iter().map(|turn| turn.total).collect(),
        tool_calls: outcome.tool_calls,
        final_text: outcome.final_text,
    })
}
