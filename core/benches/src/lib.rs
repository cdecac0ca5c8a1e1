//! Benchmarks of responses-ws-core; see `benches/`.
//!
//! Besides criterion's timing, every bench can run one of its cases a fixed number of times, for
//! an instruction count under callgrind (`callgrind.sh`): instruction counts do not move with the
//! load of a shared machine, times do.

use std::env;

/// A fixed number of iterations of one case, chosen by the environment: `BENCH_CASE` is
/// `group/library/label` as criterion names the case, `BENCH_ITERATIONS` the count.
#[derive(Debug)]
pub struct FixedRun {
    case: String,
    iterations: u64,
}

impl FixedRun {
    /// The run the environment asks for, if any.
    pub fn from_env() -> Option<FixedRun> {
        let case = env::var("BENCH_CASE").ok()?;
        let iterations = env::var("BENCH_ITERATIONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .expect("BENCH_ITERATIONS must be a count when BENCH_CASE is set");
        Some(FixedRun { case, iterations })
    }

    /// Whether the case to run is in `group` with `label` (so that only its inputs are built).
    pub fn wants(&self, group: &str, label: &str) -> bool {
        self.case.starts_with(&format!("{group}/")) && self.case.ends_with(&format!("/{label}"))
    }

    /// Whether this is the case to run.
    pub fn selects(&self, group: &str, library: &str, label: &str) -> bool {
        self.case == format!("{group}/{library}/{label}")
    }

    /// Runs one iteration of the case `iterations` times. Never inlined: `callgrind.sh` counts
    /// the instructions of this function and what it calls, and nothing of the setup.
    #[inline(never)]
    pub fn run(&self, mut iteration: Box<dyn FnMut()>) {
        for _ in 0..self.iterations {
            iteration();
        }
    }
}
