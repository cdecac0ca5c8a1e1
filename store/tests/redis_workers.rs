//! Two worker processes share a conversation through Redis: one is killed with SIGKILL in the
//! middle of a turn and the other takes the conversation over once the dead one's lease has
//! expired; a worker that was paused past its lease finds its writes refused and nothing of
//! them stored. Checked from the store's contents.
//!
//! The workers are this test binary started again on its ignored `worker` test, which reads
//! commands on stdin and answers on stdout (after `@ `); their clock is the
//! wall clock in milliseconds, shared by every process on the machine.
#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis_server::RedisServer;
use responses_ws_core::persist::{replay, Entry, Journal};
use responses_ws_core::session::Lane;
use responses_ws_core::wire::Item;
use responses_ws_store::{Lease, Record, RedisStore, Store, StoreError};

/// Where a worker process finds the store.
const URL_VAR: &str = "RESPONSES_WS_TEST_REDIS_URL";
const CONVERSATION: &str = "conv";
/// How long a test waits for one line of a worker.
const LINE_TIMEOUT: Duration = Duration::from_secs(20);

// ---- the worker process ----

/// A worker process's body: run only by [`Worker::start`].
///
/// Commands: `acquire HOLDER TTL_MS` (waits until granted), `turn N SLEEP_MS` (N records,
/// renewing the lease when half of it is spent), `write N` (N records under the lease as
/// held, as a worker does whose lease it believes still good), `exit`.
#[test]
#[ignore = "the worker process the other tests start; not a test by itself"]
fn worker() {
    let Ok(url) = std::env::var(URL_VAR) else {
        eprintln!("worker: {URL_VAR} is not set: run by the other tests of this file");
        return;
    };
    let store = RedisStore::open(&url).expect("the worker opens the store");
    let mut held: Option<(Lease, Duration)> = None;
    for line in std::io::stdin().lines() {
        let line = line.expect("a command");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["acquire", holder, ttl] => {
                let ttl = Duration::from_millis(ttl.parse().expect("a TTL in ms"));
                let (lease, now, refusals) = acquire_when_free(&store, holder, ttl);
                println!(
                    "@ lease {} {} {now} {refusals}",
                    lease.token, lease.expires_at
                );
                held = Some((lease, ttl));
            }
            ["turn", count, sleep] => {
                let (lease, ttl) = held.as_mut().expect("a lease first");
                let sleep = Duration::from_millis(sleep.parse().expect("a pause in ms"));
                for _ in 0..count.parse::<usize>().expect("a count") {
                    if now_ms() + duration_ms(*ttl) / 2 > lease.expires_at {
                        match store.renew(lease, now_ms(), *ttl) {
                            Ok(renewed) => *lease = renewed,
                            Err(error) => {
                                println!("@ error {error:?}");
                                break;
                            }
                        }
                    }
                    if !append_next(&store, lease) {
                        break;
                    }
                    std::thread::sleep(sleep);
                }
                println!("@ done");
            }
            ["write", count] => {
                let (lease, _) = held.as_ref().expect("a lease first");
                for _ in 0..count.parse::<usize>().expect("a count") {
                    if !append_next(&store, lease) {
                        break;
                    }
                }
                println!("@ done");
            }
            ["exit"] => return,
            other => panic!("worker: unknown command {other:?}"),
        }
    }
}

/// Acquires the conversation, retrying while another worker's lease runs: the lease, the
/// time it was granted at and how many times it was refused first.
fn acquire_when_free(store: &RedisStore, holder: &str, ttl: Duration) -> (Lease, u64, usize) {
    for refusals in 0..1_000 {
        let now = now_ms();
        match store.acquire(CONVERSATION, holder, now, ttl) {
            Ok(lease) => return (lease, now, refusals),
            Err(StoreError::Held { .. }) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => panic!("worker {holder}: acquire: {error:?}"),
        }
    }
    panic!("worker {holder}: the conversation stayed held for 10 s");
}

/// Appends the conversation's next record (its opening if it has none) and says so; false
/// (and the error said) if the store refused it.
fn append_next(store: &RedisStore, lease: &Lease) -> bool {
    let stored = store.read(CONVERSATION).expect("read").len() as u64;
    let record = record_of(&lease.holder, stored);
    match store.append(lease, &[record]) {
        Ok(()) => {
            println!("@ appended {stored}");
            true
        }
        Err(error) => {
            println!("@ error {error:?}");
            false
        }
    }
}

/// The record `seq` as `holder` writes it.
fn record_of(holder: &str, seq: u64) -> Record {
    let entry = if seq == 0 {
        Entry::Opened {
            lane: Lane::Default,
        }
    } else {
        Entry::InputAppended {
            items: vec![Item::user_message(format!("{holder}:{seq}"))],
        }
    };
    Journal::resume(CONVERSATION, seq).record(entry)
}

fn now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970");
    duration_ms(since_epoch)
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

// ---- the tests' side ----

/// A worker process, killed (SIGKILL, by PID) when dropped.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

/// A lease as a worker reports it.
struct Granted {
    token: u64,
    expires_at: u64,
    at: u64,
    refusals: usize,
}

impl Worker {
    fn start(server: &RedisServer) -> Worker {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["worker", "--exact", "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(URL_VAR, server.url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("a worker process");
        let stdin = child.stdin.take().expect("the worker's stdin");
        let stdout = child.stdout.take().expect("the worker's stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest may have written "test worker ... " before the first answer.
                if let Some((_, answer)) = line.split_once("@ ") {
                    if sender.send(answer.to_owned()).is_err() {
                        break;
                    }
                }
            }
        });
        Worker {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("the worker reads its commands");
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(LINE_TIMEOUT)
            .expect("the worker answers")
    }

    fn acquire(&mut self, holder: &str, ttl_ms: u64) -> Granted {
        self.send(&format!("acquire {holder} {ttl_ms}"));
        let line = self.next_line();
        let numbers: Vec<u64> = line
            .strip_prefix("lease ")
            .unwrap_or_else(|| panic!("a lease, not {line:?}"))
            .split(' ')
            .map(|word| word.parse().expect("a number"))
            .collect();
        Granted {
            token: numbers[0],
            expires_at: numbers[1],
            at: numbers[2],
            refusals: usize::try_from(numbers[3]).expect("a count"),
        }
    }

    /// Sends `command` and collects the worker's answers up to `done`: the seqs it
    /// appended, and the error that stopped it, if one did.
    fn run(&mut self, command: &str) -> (Vec<u64>, Option<String>) {
        self.send(command);
        let (mut appended, mut error) = (Vec::new(), None);
        loop {
            let line = self.next_line();
            if let Some(seq) = line.strip_prefix("appended ") {
                appended.push(seq.parse().expect("a seq"));
            } else if let Some(why) = line.strip_prefix("error ") {
                error = Some(why.to_owned());
            } else if line == "done" {
                return (appended, error);
            } else {
                panic!("unexpected answer {line:?}");
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Who wrote each stored record ("opened" for the first), checking that the conversation
/// replays and numbers on from 0.
fn writers(store: &RedisStore) -> Vec<&'static str> {
    let records = store.read(CONVERSATION).unwrap();
    replay(&records).expect("the stored conversation replays");
    records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            let seq = index as u64;
            if seq == 0 && *record == record_of("a", 0) {
                return "opened";
            }
            ["a", "b"]
                .into_iter()
                .find(|holder| *record == record_of(holder, seq))
                .unwrap_or_else(|| panic!("record {index} is nobody's: {record:?}"))
        })
        .collect()
}

#[test]
fn a_worker_killed_mid_turn_is_taken_over_once_its_lease_expires() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut a = Worker::start(&server);
    let a_lease = a.acquire("a", 1_000);
    // A long turn (a record every 5 ms, the lease renewed as it goes), killed in the middle.
    a.send("turn 2000 5");
    let mut seen = 0;
    while seen < 20 {
        let line = a.next_line();
        assert!(line.starts_with("appended "), "{line}");
        seen += 1;
    }
    drop(a);
    let store = RedisStore::open(&server.url()).unwrap();
    let after_kill = writers(&store);
    assert!(
        after_kill.len() >= 20,
        "every acknowledged record is stored"
    );

    let mut b = Worker::start(&server);
    let b_lease = b.acquire("b", 1_000);
    assert_eq!(b_lease.token, a_lease.token + 1);
    assert!(
        b_lease.refusals > 0,
        "b was refused while a's (renewed) lease ran"
    );
    let (appended, error) = b.run("turn 5 0");
    assert_eq!(error, None);
    let first = after_kill.len() as u64;
    assert_eq!(appended, (first..first + 5).collect::<Vec<_>>());
    let all = writers(&store);
    assert_eq!(all[..after_kill.len()], after_kill[..], "a's records kept");
    assert!(all[1..after_kill.len()].iter().all(|writer| *writer == "a"));
    assert!(all[after_kill.len()..].iter().all(|writer| *writer == "b"));
    // B got the conversation only once A's last lease had run out (at least the first).
    assert!(b_lease.at >= a_lease.expires_at);
    b.send("exit");
}

#[test]
fn a_worker_paused_past_its_lease_cannot_write() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut a = Worker::start(&server);
    let a_lease = a.acquire("a", 300);
    assert_eq!(a.run("write 3"), (vec![0, 1, 2], None));
    // A pauses (reads no command) past its lease; B waits for it to run out and takes over.
    let mut b = Worker::start(&server);
    let b_lease = b.acquire("b", 60_000);
    assert!(b_lease.at >= a_lease.expires_at && b_lease.token == a_lease.token + 1);
    assert_eq!(b.run("write 2"), (vec![3, 4], None));
    // A wakes up and writes as if nothing happened: refused by the fencing token.
    let fenced = format!(
        "Fenced {{ conversation: \"conv\", token: {}, current: {} }}",
        a_lease.token, b_lease.token
    );
    assert_eq!(a.run("write 2"), (vec![], Some(fenced.clone())));
    // Renewing first does not help it either.
    assert_eq!(a.run("turn 1 0"), (vec![], Some(fenced)));
    let store = RedisStore::open(&server.url()).unwrap();
    assert_eq!(writers(&store), ["opened", "a", "a", "b", "b"]);
    a.send("exit");
    b.send("exit");
}
