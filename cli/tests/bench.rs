//! `responses-ws bench` completes a small run and prints the table (and the chart).

mod common;

use std::time::Duration;

use common::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_bench_prints_the_table_and_the_chart() {
    let svg = std::env::temp_dir().join(format!("responses-ws-bench-{}.svg", std::process::id()));
    let svg_arg = svg.to_string_lossy().into_owned();
    let output = run(
        &[
            "bench",
            "--reps",
            "1",
            "--tool-calls",
            "4",
            "--rtt-ms",
            "5",
            "--server-cost-per-kib-ms",
            "0.5",
            "--stored-lookup-ms",
            "2",
            "--plot",
            &svg_arg,
        ],
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(output.code, Some(0), "{}\n{}", output.stdout, output.stderr);
    let out = &output.stdout;
    assert!(
        out.contains("4 tool calls in 4 responses (1 with parallel calls)"),
        "{out}"
    );
    assert!(
        out.contains(" · server cost 0.5 ms/KiB of uncached input + 2 ms/stored lookup · "),
        "{out}"
    );
    let header = out
        .lines()
        .find(|l| l.starts_with("mode "))
        .expect("a table");
    for column in [
        "total",
        "turn p50",
        "turn p95",
        "bytes up",
        "bytes down",
        "vs WS",
    ] {
        assert!(header.contains(column), "{header}");
    }
    for mode in [
        "WebSocket, incremental (ours)",
        "HTTP+SSE, full context",
        "HTTP+SSE, previous_response_id",
    ] {
        let row = out.lines().find(|l| l.starts_with(mode)).expect(mode);
        assert!(row.ends_with('×'), "{row}");
    }
    assert!(
        out.contains("HTTP keep-alive: async-openai's reqwest client"),
        "{out}"
    );
    let chart = std::fs::read_to_string(&svg).unwrap();
    std::fs::remove_file(&svg).unwrap();
    assert!(chart.starts_with("<svg ") && chart.contains("HTTP+SSE, full context"));
}
