//! `responses-ws mock`: the scripted mock server on its own, WebSocket and HTTP+SSE on one
//! port, with the demo's trip-planning script or one read from a JSON file (the serde form of
//! `responses_ws_core::mock::Script`). It prints its URLs and serves until Ctrl-C (or SIGTERM).

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use responses_ws_core::mock::Script;
use responses_ws_tokio::mock::MockServer;

use crate::cli::MockArgs;
use crate::demo::demo_script;
use crate::error::CliError;

/// Serves until interrupted.
pub(crate) async fn mock(args: MockArgs) -> Result<(), CliError> {
    let script = match &args.script {
        Some(path) => read_script(path)?,
        None => demo_script(Duration::from_millis(12)),
    };
    let addr = SocketAddr::new(args.host, args.port);
    let server = MockServer::bind(addr, script)
        .await
        .map_err(|error| CliError::io(format!("cannot listen on {addr}"), error))?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "mock Responses API server (scripted), Ctrl-C to stop");
        let _ = writeln!(out, "  WebSocket: {}", server.url());
        let _ = writeln!(
            out,
            "  HTTP:      {} (POST /responses, SSE)",
            server.http_base()
        );
        let _ = out.flush();
    }
    let stopped = wait_for_signal().await;
    server.shutdown().await;
    stopped.map_err(|error| CliError::io("waiting for Ctrl-C", error))?;
    println!("stopped");
    Ok(())
}

fn read_script(path: &Path) -> Result<Script, CliError> {
    let bad = |why: String| CliError::BadInput {
        path: path.to_owned(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|error| bad(error.to_string()))?;
    Script::from_json(&text).map_err(|error| bad(format!("not a mock script: {error}")))
}

/// Ctrl-C, or SIGTERM on Unix.
async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
