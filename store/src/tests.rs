//! The contract every backend keeps, run against each; then what only the file keeps.
//! (What only Redis keeps is in `tests/redis.rs`, beside the two-worker test.)

use std::time::Duration;

use responses_ws_core::persist::{replay, Entry, Journal};
use responses_ws_core::session::Lane;
use responses_ws_core::wire::{Item, Response};

use super::*;

const TTL: Duration = Duration::from_millis(1_000);

fn opened(conversation: &str) -> Record {
    Journal::new(conversation).record(Entry::Opened {
        lane: Lane::Default,
    })
}

fn input(seq: u64, text: &str) -> Record {
    Journal::resume("conv", seq).record(Entry::InputAppended {
        items: vec![Item::user_message(text)],
    })
}

fn a_worker_whose_lease_was_taken_over_is_fenced(store: &impl Store) {
    let a = store.acquire("conv", "a", 0, TTL).unwrap();
    store.append(&a, &[opened("conv")]).unwrap();
    assert!(matches!(
        store.acquire("conv", "b", 999, TTL),
        Err(StoreError::Held { holder, expires_at: 1_000, .. }) if holder == "a"
    ));
    let b = store.acquire("conv", "b", 1_000, TTL).unwrap();
    assert_eq!((b.token, b.expires_at), (a.token + 1, 2_000));
    for refused in [
        store.append(&a, &[input(1, "from a")]),
        store.renew(&a, 1_000, TTL).map(drop),
        store.release(&a),
    ] {
        assert!(matches!(
            refused,
            Err(StoreError::Fenced { token, current, .. }) if token == a.token && current == b.token
        ));
    }
    store.append(&b, &[input(1, "from b")]).unwrap();
    assert_eq!(
        store.read("conv").unwrap(),
        [opened("conv"), input(1, "from b")]
    );
}

fn appends_continue_the_conversation_all_or_none(store: &impl Store) {
    let lease = store.acquire("conv", "a", 0, TTL).unwrap();
    let gap = store.append(&lease, &[opened("conv"), input(2, "gap")]);
    assert!(matches!(
        gap,
        Err(StoreError::Conflict {
            expected_seq: 1,
            found_seq: 2,
            ..
        })
    ));
    assert!(matches!(
        store.append(&lease, &[opened("other")]),
        Err(StoreError::Conflict {
            expected_seq: 0,
            ..
        })
    ));
    assert!(
        store.read("conv").unwrap().is_empty(),
        "nothing of a refused batch"
    );
    store
        .append(&lease, &[opened("conv"), input(1, "one")])
        .unwrap();
    assert!(matches!(
        store.append(&lease, &[input(1, "again")]),
        Err(StoreError::Conflict {
            expected_seq: 2,
            found_seq: 1,
            ..
        })
    ));
    assert_eq!(store.read("conv").unwrap().len(), 2);
    assert!(store.read("unknown").unwrap().is_empty());
}

fn a_released_or_renewed_lease_moves_on_its_own_terms(store: &impl Store) {
    let a = store.acquire("conv", "a", 0, TTL).unwrap();
    let renewed = store.renew(&a, 900, TTL).unwrap();
    assert_eq!((renewed.token, renewed.expires_at), (a.token, 1_900));
    assert!(matches!(
        store.acquire("conv", "b", 1_500, TTL),
        Err(StoreError::Held { .. })
    ));
    store.release(&renewed).unwrap();
    let b = store.acquire("conv", "b", 1_500, TTL).unwrap();
    // Acquiring again, even by the same worker, fences what it wrote under the old token.
    let b_again = store.acquire("conv", "b", 1_600, TTL).unwrap();
    assert!(b_again.token > b.token);
    assert!(matches!(
        store.append(&b, &[opened("conv")]),
        Err(StoreError::Fenced { .. })
    ));
    // An expired lease that nobody took over still writes: no one else can have written.
    store.append(&b_again, &[opened("conv")]).unwrap();
}

/// The contract's tests for one backend; `$new` makes a store and what must live as long as
/// it (a directory, a server), or `None` to skip (Redis not installed, skipping allowed).
/// Eight threads race through `handles` (thread `n` uses handle `n % len`: one store shared,
/// or one handle, one connection, each, as separate processes would have).
fn racing_workers_get_one_lease_and_racing_appends_land_once<S: Store + Sync>(handles: &[S]) {
    let handle = |n: usize| &handles[n % handles.len()];
    let store = handle(0);
    let granted: Vec<Lease> = std::thread::scope(|scope| {
        let racing: Vec<_> = (0..8)
            .map(|n| scope.spawn(move || handle(n).acquire("conv", &format!("worker-{n}"), 0, TTL)))
            .collect();
        racing
            .into_iter()
            .filter_map(|race| match race.join().unwrap() {
                Ok(lease) => Some(lease),
                Err(StoreError::Held { .. }) => None,
                Err(error) => panic!("{error:?}"),
            })
            .collect()
    });
    let [winner] = granted.as_slice() else {
        panic!("one lease for eight racing workers, not {granted:?}");
    };
    store.append(winner, &[opened("conv")]).unwrap();
    // Eight appends of the same next record under the one lease: one lands.
    let stored = std::thread::scope(|scope| {
        let racing: Vec<_> = (0..8)
            .map(|n| {
                scope.spawn(move || handle(n).append(winner, &[input(1, &format!("try {n}"))]))
            })
            .collect();
        racing
            .into_iter()
            .map(|race| match race.join().unwrap() {
                Ok(()) => 1,
                Err(StoreError::Conflict {
                    expected_seq: 2,
                    found_seq: 1,
                    ..
                }) => 0,
                Err(error) => panic!("{error:?}"),
            })
            .sum::<usize>()
    });
    assert_eq!(stored, 1);
    assert_eq!(store.read("conv").unwrap().len(), 2);
}

macro_rules! contract {
    ($backend:ident, $new:expr) => {
        mod $backend {
            use super::*;

            #[test]
            fn a_worker_whose_lease_was_taken_over_is_fenced() {
                let Some((_guard, store)) = $new else { return };
                super::a_worker_whose_lease_was_taken_over_is_fenced(&store);
            }

            #[test]
            fn appends_continue_the_conversation_all_or_none() {
                let Some((_guard, store)) = $new else { return };
                super::appends_continue_the_conversation_all_or_none(&store);
            }

            #[test]
            fn racing_workers_get_one_lease_and_racing_appends_land_once() {
                let Some((_guard, store)) = $new else { return };
                super::racing_workers_get_one_lease_and_racing_appends_land_once(
                    std::slice::from_ref(&store),
                );
            }

            #[test]
            fn a_released_or_renewed_lease_moves_on_its_own_terms() {
                let Some((_guard, store)) = $new else { return };
                super::a_released_or_renewed_lease_moves_on_its_own_terms(&store);
            }
        }
    };
}

contract!(memory, Some(((), MemoryStore::default())));
contract!(file, Some(new_file()));
#[cfg(feature = "redis")]
contract!(redis, new_redis());

#[cfg(feature = "redis")]
#[path = "../tests/support/redis.rs"]
mod redis_server;

#[cfg(feature = "redis")]
fn new_redis() -> Option<(redis_server::RedisServer, RedisStore)> {
    let server = redis_server::RedisServer::start()?;
    let store = RedisStore::open(&server.url()).unwrap();
    Some((server, store))
}

#[cfg(feature = "redis")]
#[test]
fn racing_connections_to_one_redis_get_one_lease_and_land_one_append() {
    let Some((server, first)) = new_redis() else {
        return;
    };
    let mut handles = vec![first];
    handles.extend((1..8).map(|_| RedisStore::open(&server.url()).unwrap()));
    racing_workers_get_one_lease_and_racing_appends_land_once(&handles);
}

#[test]
fn racing_handles_on_one_file_get_one_lease_and_land_one_append() {
    let (dir, first) = new_file();
    let mut handles = vec![first];
    handles.extend((1..8).map(|_| FileStore::open(dir.path().join("store.sqlite")).unwrap()));
    racing_workers_get_one_lease_and_racing_appends_land_once(&handles);
}

fn new_file() -> (tempfile::TempDir, FileStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path().join("store.sqlite")).unwrap();
    (dir, store)
}

/// A conversation that stopped with one of its two calls answered.
fn one_of_two_calls_answered() -> Vec<Record> {
    let calls: Vec<Item> = serde_json::from_str(
        r#"[{"type":"function_call","call_id":"pay","name":"pay","arguments":"{}"},
            {"type":"function_call","call_id":"mail","name":"mail","arguments":"{}"}]"#,
    )
    .unwrap();
    let mut journal = Journal::new("conv");
    [
        Entry::Opened {
            lane: Lane::Default,
        },
        Entry::InputAppended {
            items: vec![Item::user_message("Pay and tell me")],
        },
        Entry::ResponseCompleted {
            settings: Box::default(),
            response: Box::new(Response {
                id: "resp_1".into(),
                output: calls,
                ..Response::default()
            }),
            injected: Vec::new(),
        },
        Entry::ToolCallsSeen {
            response_id: "resp_1".into(),
            call_ids: vec!["pay".into(), "mail".into()],
        },
        Entry::ToolOutputAccepted {
            call_id: "pay".into(),
            output: Item::function_call_output("pay", "paid"),
        },
    ]
    .into_iter()
    .map(|entry| journal.record(entry))
    .collect()
}

#[test]
fn records_and_leases_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let written = one_of_two_calls_answered();
    let first = {
        let store = FileStore::open(&path).unwrap();
        let lease = store.acquire("conv", "a", 0, TTL).unwrap();
        store.append(&lease, &written).unwrap();
        lease
    };
    let store = FileStore::open(&path).unwrap();
    let read = store.read("conv").unwrap();
    assert_eq!(read, written);
    let resumed = replay(&read).unwrap();
    let rerun: Vec<_> = resumed
        .to_rerun()
        .map(|call| call.call_id.as_str())
        .collect();
    assert_eq!(
        rerun,
        ["mail"],
        "the durable output of `pay` is not run again"
    );
    assert!(matches!(
        store.acquire("conv", "b", 500, TTL),
        Err(StoreError::Held { .. })
    ));
    let second = store.acquire("conv", "b", 1_000, TTL).unwrap();
    assert_eq!(second.token, first.token + 1);
    let next = resumed.journal().record(Entry::ToolOutputAccepted {
        call_id: "mail".into(),
        output: Item::function_call_output("mail", "sent"),
    });
    store.append(&second, &[next]).unwrap();
    assert!(replay(&store.read("conv").unwrap())
        .unwrap()
        .to_rerun()
        .next()
        .is_none());
}

#[test]
fn two_handles_on_one_file_fence_each_other_like_two_processes() {
    let (dir, a_side) = new_file();
    let b_side = FileStore::open(dir.path().join("store.sqlite")).unwrap();
    let a = a_side.acquire("conv", "a", 0, TTL).unwrap();
    a_side.append(&a, &[opened("conv")]).unwrap();
    assert_eq!(b_side.read("conv").unwrap(), [opened("conv")]);
    let b = b_side.acquire("conv", "b", 1_000, TTL).unwrap();
    assert!(matches!(
        a_side.append(&a, &[input(1, "late")]),
        Err(StoreError::Fenced { .. })
    ));
    b_side.append(&b, &[input(1, "on time")]).unwrap();
    assert_eq!(a_side.read("conv").unwrap().len(), 2);
}

#[test]
fn a_read_only_file_is_a_typed_error() {
    let (dir, store) = new_file();
    let path = dir.path().join("store.sqlite");
    drop(store);
    let mut permissions = std::fs::metadata(&path).unwrap().permissions();
    permissions.set_readonly(true);
    std::fs::set_permissions(&path, permissions).unwrap();
    let error = FileStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::ReadOnly(_)), "{error:?}");
    assert!(error.to_string().contains("read-only"));
}

#[test]
fn a_file_that_is_not_a_store_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    std::fs::write(
        &path,
        b"not a database, just some bytes that fill a page or so",
    )
    .unwrap();
    let error = FileStore::open(&path).unwrap_err();
    assert!(
        matches!(&error, StoreError::Io(io) if io.kind() == std::io::ErrorKind::InvalidData),
        "{error:?}"
    );
}

#[test]
fn a_stored_record_that_does_not_decode_is_a_typed_error() {
    let (dir, store) = new_file();
    let lease = store.acquire("conv", "a", 0, TTL).unwrap();
    store.append(&lease, &[opened("conv")]).unwrap();
    let other = rusqlite::Connection::open(dir.path().join("store.sqlite")).unwrap();
    other
        .execute("UPDATE records SET body = x'7b7d' WHERE seq = 0", [])
        .unwrap();
    let error = store.read("conv").unwrap_err();
    assert!(
        matches!(&error, StoreError::Corrupt { conversation, .. } if conversation == "conv"),
        "{error:?}"
    );
}

#[test]
fn a_full_file_refuses_a_whole_batch_and_keeps_the_rest() {
    let (_dir, store) = new_file();
    let lease = store.acquire("conv", "a", 0, TTL).unwrap();
    let big = |seq| input(seq, &"x".repeat(16 * 1024));
    store.append(&lease, &[opened("conv"), big(1)]).unwrap();
    store.fill_up();
    let full = store.append(&lease, &[big(2), big(3)]).unwrap_err();
    assert!(
        matches!(&full, StoreError::Io(io) if io.kind() == std::io::ErrorKind::StorageFull),
        "{full:?}"
    );
    assert_eq!(
        store.read("conv").unwrap(),
        [opened("conv"), big(1)],
        "nothing of the refused batch"
    );
    store.make_room();
    store.append(&lease, &[big(2), big(3)]).unwrap();
    assert_eq!(store.read("conv").unwrap().len(), 4);
}

#[test]
fn every_store_can_be_shared_between_threads() {
    fn shared<T: Store + Send + Sync + 'static>() {}
    shared::<MemoryStore>();
    shared::<FileStore>();
    #[cfg(feature = "redis")]
    shared::<RedisStore>();
}
