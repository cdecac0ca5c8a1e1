//! What the pool's test files share: the workload (a tool-call round, then a short text
//! answer), the pool on a runtime, and what the mock's connection log says about connections
//! at once and the server's limits.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use responses_ws_futures::pool::{Pool, PoolBuilder};
use responses_ws_futures::{runtime, Config, ResponseCreate};
use responses_ws_tokio::mock::{ConnectionRecord, Script, ScriptedCall};

use super::support::Rt;

/// Every turn: one tool-call round, then a short text answer.
pub fn tool_round() -> Script {
    Script::new()
        .tool_calls([ScriptedCall::new("lookup", r#"{"q":"weather"}"#)])
        .text("It is sunny.", 3)
}

/// A turn's request with `text` as its input.
pub fn ask(text: &str) -> ResponseCreate {
    ResponseCreate::new("gpt-test").input(text).store(false)
}

/// A pool on `url` with `rt`'s runtime; the client's default retry budget per request.
pub fn pool(rt: Rt, url: &str) -> PoolBuilder {
    pool_with(rt, url, |config| config)
}

/// [`pool`], its configuration changed by `change` (a transport, a store …).
pub fn pool_with(rt: Rt, url: &str, change: impl FnOnce(Config) -> Config) -> PoolBuilder {
    let config = Config::new(url).unwrap().api_key("sk-test");
    let config = match rt {
        Rt::AsyncStd => config.runtime(runtime::AsyncStd),
        Rt::Smol => config.runtime(runtime::Smol),
        Rt::Tokio => config.runtime(runtime::Tokio),
    };
    Pool::builder(change(config))
}

/// The most connections open at once, from the log (a connection still open counts to the
/// end).
pub fn peak_open(log: &[ConnectionRecord]) -> usize {
    let mut changes: Vec<(Duration, i32)> = Vec::new();
    for record in log {
        changes.push((record.accepted, 1));
        changes.push((record.closed.unwrap_or(Duration::MAX), -1));
    }
    // At equal times a close comes before an open.
    changes.sort();
    let mut open = 0i32;
    let mut peak = 0;
    for (_, change) in changes {
        open += change;
        peak = peak.max(open);
    }
    peak as usize
}
