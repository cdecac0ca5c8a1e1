//! `responses-ws load` runs a short burst and a short sustained load against its own mock
//! processes and reports every turn done, in JSON. Its summary is checked, not its speed.
//! The comparison with the official Python client needs `tests/interop/install.sh` (it puts
//! `openai[realtime]` in `tests/.peers/openai-venv`).

mod common;

use std::time::Duration;

use common::run;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// The WebSocket URL a `responses-ws mock` child prints.
async fn mock_url(mock: &mut Child) -> String {
    let stdout = mock.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let find = async {
        while let Some(line) = lines.next_line().await.expect("the mock's stdout") {
            if let Some(url) = line.trim().strip_prefix("WebSocket:") {
                return url.trim().to_owned();
            }
        }
        panic!("the mock printed no URL");
    };
    tokio::time::timeout(Duration::from_secs(30), find)
        .await
        .expect("the mock prints its URL")
}

/// Runs `load` with `args` and `--json`; returns the report.
async fn load(args: &[&str]) -> Value {
    let args = [&["load", "--json"], args].concat();
    let output = run(&args, Duration::from_secs(120)).await;
    assert_eq!(output.code, Some(0), "{}\n{}", output.stdout, output.stderr);
    serde_json::from_str(&output.stdout).unwrap_or_else(|error| {
        panic!("not JSON ({error}): {}", output.stdout);
    })
}

/// Checks a client's run: every turn done, no agent failed, the figures filled in; one
/// connection per agent, or for the pool at least one and at most `--max-connections`.
fn check_run(run: &Value, client: &str, turns: u64, agents: u64, max_connections: u64) {
    assert_eq!(run["client"], client, "{run}");
    assert_eq!(run["turns_planned"], turns, "{run}");
    assert_eq!(run["turns_completed"], turns, "{run}");
    assert_eq!(run["agents_failed"], 0, "{run}");
    let connections = run["connections_opened"].as_u64().unwrap();
    match client {
        "pool" => assert!((1..=max_connections).contains(&connections), "{run}"),
        _ => assert_eq!(connections, agents, "{run}"),
    }
    assert_eq!(run["errors"], Value::Array(vec![]), "{run}");
    for field in ["wall_s", "turns_per_s", "cpu_s", "cpu_per_turn_us"] {
        assert!(run[field].as_f64().unwrap() > 0.0, "{field}: {run}");
    }
    let latency = &run["latency_ms"];
    let p = |name: &str| latency[name].as_f64().unwrap();
    assert!(p("p50") > 0.0, "{run}");
    assert!(p("p50") <= p("p90") && p("p90") <= p("p99") && p("p99") <= p("max"));
    assert!(run["peak_rss_bytes"].as_u64().unwrap() > 1 << 20, "{run}");
    assert!(run["retries"].is_u64(), "{run}");
    let mock = &run["mock"];
    assert!(mock["cpu_per_turn_us"].as_f64().unwrap() > 0.0, "{run}");
    assert!(mock["busy_cores"].as_f64().unwrap() > 0.0, "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_burst_completes_every_turn_on_the_pool_and_on_a_connection_per_agent() {
    let report = load(&[
        "--client",
        "pool,connections",
        "--max-connections",
        "2",
        "--agents",
        "40",
        "--turns",
        "3",
        "--idle-connections",
        "20",
        "--mock-threads",
        "1",
    ])
    .await;
    assert_eq!(report["plan"]["kind"], "burst", "{report}");
    assert_eq!(report["plan"]["agents"], 40);
    assert!(report["cores"].as_u64().unwrap() >= 1);
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{report}");
    check_run(&runs[0], "pool", 120, 40, 2);
    check_run(&runs[1], "connections", 120, 40, 2);
    assert_eq!(runs[0]["mock"]["threads"], 1);
    let idle = report["idle_memory"].as_array().unwrap();
    assert_eq!(idle[0]["client"], "pool");
    assert!((1..=20).contains(&idle[0]["connections"].as_u64().unwrap()));
    assert_eq!(idle[1]["client"], "connections");
    assert_eq!(idle[1]["connections"], 20);
    for idle in idle {
        assert!(idle["bytes_per_connection"].as_f64().unwrap() >= 0.0);
    }
    let ratio = &report["ratios"][0];
    assert_eq!(
        (&ratio["client"], &ratio["versus"]),
        (&"pool".into(), &"connections".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_sustained_load_compares_with_the_official_python_client() {
    let report = load(&[
        "--agents",
        "5",
        "--rate",
        "20",
        "--duration",
        "1",
        "--compare",
        "--idle-connections",
        "10",
    ])
    .await;
    assert_eq!(report["plan"]["kind"], "sustained", "{report}");
    assert_eq!(report["plan"]["rate"], 20.0);
    assert_eq!(report["plan"]["duration_s"], 1.0);
    let runs = report["runs"].as_array().unwrap();
    let clients: Vec<&str> = runs
        .iter()
        .map(|run| run["client"].as_str().unwrap())
        .collect();
    assert_eq!(
        clients,
        ["pool", "connections", "openai-python"],
        "{report}"
    );
    for run in runs {
        check_run(run, run["client"].as_str().unwrap(), 20, 5, 320);
        // Open loop: 20 turns started over one second take at least most of it.
        assert!(run["wall_s"].as_f64().unwrap() >= 0.9, "{run}");
    }
    let idle: Vec<&str> = report["idle_memory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|idle| idle["client"].as_str().unwrap())
        .collect();
    assert_eq!(idle, ["pool", "connections", "openai-python"]);
    let ratios = report["ratios"].as_array().unwrap();
    assert_eq!(ratios.len(), 2, "{report}");
    for (ratio, versus) in ratios.iter().zip(["connections", "openai-python"]) {
        assert_eq!(ratio["client"], "pool");
        assert_eq!(ratio["versus"], versus);
        for field in ["turns_per_s", "p99_latency", "cpu_per_turn"] {
            assert!(ratio[field].as_f64().unwrap() > 0.0, "{ratio}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_runs_against_a_mock_given_by_url_playing_its_saved_script() {
    let path = std::env::temp_dir().join(format!("responses-ws-load-{}.json", std::process::id()));
    let path_arg = path.to_string_lossy().into_owned();
    let saved = run(
        &["load", "--turns", "3", "--save-script", &path_arg],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(saved.code, Some(0), "{}", saved.stderr);
    let mut mock = common::binary(&[
        "mock",
        "--port",
        "0",
        "--threads",
        "1",
        "--script",
        &path_arg,
    ])
    .spawn()
    .expect("the mock starts");
    let url = mock_url(&mut mock).await;
    let report = load(&[
        "--url",
        &url,
        "--client",
        "connections",
        "--agents",
        "4",
        "--turns",
        "3",
        "--idle-connections",
        "0",
    ])
    .await;
    let _ = mock.start_kill();
    let _ = mock.wait().await;
    let _ = std::fs::remove_file(&path);
    let run = &report["runs"][0];
    assert_eq!(run["turns_completed"], 12, "{report}");
    assert_eq!(run["agents_failed"], 0, "{report}");
    assert_eq!(run["mock"], Value::Null, "not ours to measure: {report}");
}
