//! What the OS says a process used: CPU time and peak resident memory from `getrusage` (of
//! this process, or of the children reaped so far), and the current resident set from
//! `/proc/self/statm` (Linux; `None` elsewhere).

use std::time::Duration;

/// CPU time (user + system) and the peak resident set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// User and system CPU time.
    pub(crate) cpu: Duration,
    /// `ru_maxrss` in bytes: this process's peak, or the largest peak among reaped children.
    pub(crate) max_rss: u64,
}

impl Usage {
    /// This process so far.
    pub(crate) fn this_process() -> Usage {
        rusage(libc::RUSAGE_SELF)
    }

    /// Every child process reaped so far (`wait`ed for), summed.
    pub(crate) fn reaped_children() -> Usage {
        rusage(libc::RUSAGE_CHILDREN)
    }

    /// CPU time used between `earlier` and `self`.
    pub(crate) fn cpu_since(&self, earlier: &Usage) -> Duration {
        self.cpu.saturating_sub(earlier.cpu)
    }
}

fn rusage(who: libc::c_int) -> Usage {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` writes one `struct rusage` into the pointer it is given, which points
    // to a zeroed value of exactly that type that lives across the call; `who` is one of the
    // two constants the function accepts.
    let status = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    if status != 0 {
        return Usage::default();
    }
    // SAFETY: zero-initialised (a valid `rusage`: plain integers) and filled by the call.
    let usage = unsafe { usage.assume_init() };
    let time = |tv: libc::timeval| {
        Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
    };
    Usage {
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        // Linux reports kilobytes.
        max_rss: u64::try_from(usage.ru_maxrss)
            .unwrap_or(0)
            .saturating_mul(1024),
    }
}

/// This process's resident set once the allocator has given back the free memory it caches
/// (`malloc_trim`, glibc): what the live allocations hold, not what an earlier peak left
/// behind.
pub(crate) fn settled_rss() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only returns free pages of the allocator's heaps to the OS; it
    // takes no pointer and touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
    rss_now()
}

/// This process's resident set now, in bytes.
pub(crate) fn rss_now() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages.saturating_mul(page_size()))
}

fn page_size() -> u64 {
    // SAFETY: `sysconf` only reads a configuration value.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size)
        .ok()
        .filter(|size| *size > 0)
        .unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work_and_memory_is_seen() {
        let before = Usage::this_process();
        let mut x = 0u64;
        let started = std::time::Instant::now();
        // Spins until getrusage sees 5 ms of CPU (at most 10 s of wall time, however loaded).
        let after = loop {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            let now = Usage::this_process();
            if now.cpu_since(&before) >= Duration::from_millis(5)
                || started.elapsed() > Duration::from_secs(10)
            {
                break now;
            }
        };
        assert!(after.cpu_since(&before) >= Duration::from_millis(5));
        assert!(after.cpu >= before.cpu);
        assert!(after.max_rss > 1024 * 1024);
        let rss = rss_now().expect("Linux has /proc/self/statm");
        assert!(rss > 1024 * 1024 && rss <= after.max_rss * 2, "{rss}");
    }
}
