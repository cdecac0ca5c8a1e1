//! [`Meter`]: what a client run measures while it runs: turns done (shown on a progress bar,
//! on stderr and only on a terminal) and this process's peak resident set, sampled by a
//! ticker task (a run's peak, where `ru_maxrss` only knows the whole process's).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use super::usage;

/// How often the bar is redrawn and the resident set sampled.
const TICK: Duration = Duration::from_millis(50);

/// Turns done and peak memory of one run.
#[derive(Debug)]
pub(crate) struct Meter {
    shared: Arc<Shared>,
    ticker: JoinHandle<()>,
    bar: ProgressBar,
}

#[derive(Debug, Default)]
struct Shared {
    done: AtomicU64,
    peak_rss: AtomicU64,
}

/// A cloneable handle that counts turns.
#[derive(Debug, Clone)]
pub(crate) struct Counter(Arc<Shared>);

impl Counter {
    /// A counter that counts for no meter (a warm-up).
    pub(crate) fn detached() -> Counter {
        Counter(Arc::default())
    }

    /// One more turn done.
    pub(crate) fn turn_done(&self) {
        self.0.done.fetch_add(1, Ordering::Relaxed);
    }

    /// `done` turns done in all (for a client that reports its own count).
    pub(crate) fn set_done(&self, done: u64) {
        self.0.done.store(done, Ordering::Relaxed);
    }
}

impl Meter {
    /// Starts metering a run of `total` turns labelled `label`; `quiet` hides the bar.
    pub(crate) fn start(total: u64, label: &str, quiet: bool) -> Meter {
        let bar = match quiet {
            true => ProgressBar::hidden(),
            false => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg:<28} [{bar:32}] {pos}/{len} turns ({per_sec}, {elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(label.to_owned());
        let shared = Arc::new(Shared::default());
        sample(&shared);
        let ticker = tokio::spawn({
            let shared = Arc::clone(&shared);
            let bar = bar.clone();
            async move {
                let mut tick = tokio::time::interval(TICK);
                loop {
                    tick.tick().await;
                    sample(&shared);
                    bar.set_position(shared.done.load(Ordering::Relaxed));
                }
            }
        });
        Meter {
            shared,
            ticker,
            bar,
        }
    }

    /// A handle for the run's tasks.
    pub(crate) fn counter(&self) -> Counter {
        Counter(Arc::clone(&self.shared))
    }

    /// Stops metering; returns the peak resident set seen, in bytes.
    pub(crate) fn finish(self) -> u64 {
        self.ticker.abort();
        sample(&self.shared);
        self.bar.finish_and_clear();
        self.shared.peak_rss.load(Ordering::Relaxed)
    }
}

fn sample(shared: &Shared) {
    if let Some(rss) = usage::rss_now() {
        shared.peak_rss.fetch_max(rss, Ordering::Relaxed);
    }
}
