//! Autobahn TestSuite client driver: runs every case of a `wstest -m fuzzingserver` against the
//! core's client role, echoing each text and binary message back as it came.
//!
//! ```text
//! cargo run --release -p responses-ws-autobahn --bin autobahn_client -- ws://127.0.0.1:9001 responses-ws
//! ```
//!
//! It asks `/getCaseCount`, runs `/runCase?case=N&agent=AGENT` for N = 1..=count, then
//! `/updateReports?agent=AGENT` so the fuzzingserver writes its report. `tests/autobahn/run.sh`
//! runs it; `tests/autobahn/check.py` judges the report.

use responses_ws_core::ws::{Config, Event, Message};
use responses_ws_tests::driver::WsStream;
use std::io;

/// Limits wide enough for case 9.* (16 MiB messages) and no keepalive pings to confuse a case.
fn config() -> Config {
    let mut config = Config::default();
    config.max_frame_payload = 64 << 20;
    config.max_message_size = 64 << 20;
    config.max_outbound_queue = 64 << 20;
    config.keepalive_interval = None;
    config
}

/// Runs one connection to `url`, echoing data messages, until it ends; returns the text
/// messages received (for `/getCaseCount`).
fn echo(url: &str) -> io::Result<Vec<String>> {
    let mut ws = WsStream::connect(url, &[], config())?;
    let mut texts = Vec::new();
    while let Some(event) = ws.next_event()? {
        match event {
            Event::Message(message) => {
                if let Message::Text(text) = &message {
                    texts.push(text.as_str().to_owned());
                }
                // The peer may have closed already: a refused echo is part of the case.
                if let Err(e) = ws.send(message) {
                    eprintln!("{url}: echo not sent: {e}");
                }
            }
            Event::Closed(closed) => {
                if let Some(error) = closed.error {
                    eprintln!("{url}: closed with {error}");
                }
            }
            _ => {}
        }
    }
    Ok(texts)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, agent] = &args[..] else {
        eprintln!("usage: autobahn_client <ws-base-url> <agent>");
        std::process::exit(2);
    };
    let base = base.trim_end_matches('/');
    let count: usize = echo(&format!("{base}/getCaseCount"))
        .ok()
        .and_then(|texts| texts.first()?.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("could not read the case count from {base}/getCaseCount");
            std::process::exit(1);
        });
    eprintln!("running {count} cases as {agent}");
    for case in 1..=count {
        if let Err(e) = echo(&format!("{base}/runCase?case={case}&agent={agent}")) {
            eprintln!("case {case}: {e}");
        }
    }
    if let Err(e) = echo(&format!("{base}/updateReports?agent={agent}")) {
        eprintln!("updateReports: {e}");
        std::process::exit(1);
    }
}
