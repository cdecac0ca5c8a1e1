//! What only the Redis store keeps: a server that is not there, that stops mid-run, that is
//! full, that does not answer, or that holds a record that does not decode gives a typed
//! error, no panic, and loses nothing it acknowledged. (The contract every store keeps runs
//! on Redis in `src/tests.rs`.)
#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::Duration;

use redis_server::RedisServer;
use responses_ws_core::persist::{Entry, Journal};
use responses_ws_core::session::Lane;
use responses_ws_core::wire::Item;
use responses_ws_store::{Lease, Record, RedisOptions, RedisStore, Store, StoreError};

const TTL: Duration = Duration::from_secs(60);

/// The conversation's records `from..to`: an opening, then inputs of `size` bytes.
fn records(from: u64, to: u64, size: usize) -> Vec<Record> {
    (from..to)
        .map(|seq| {
            let entry = if seq == 0 {
                Entry::Opened {
                    lane: Lane::Default,
                }
            } else {
                Entry::InputAppended {
                    items: vec![Item::user_message(format!("{seq}:{}", "x".repeat(size)))],
                }
            };
            Journal::resume("conv", seq).record(entry)
        })
        .collect()
}

fn open(server: &RedisServer) -> (RedisStore, Lease) {
    let store = RedisStore::open(&server.url()).unwrap();
    let lease = store.acquire("conv", "a", 0, TTL).unwrap();
    (store, lease)
}

fn raw(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

#[test]
fn a_server_that_is_not_there_is_unavailable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = RedisStore::open(&format!("redis://127.0.0.1:{port}")).unwrap_err();
    assert!(
        matches!(&error, StoreError::Unavailable(why) if why.contains(&port.to_string())),
        "{error:?}"
    );
}

#[test]
fn a_url_that_does_not_parse_is_invalid_input() {
    let error = RedisStore::open("http://127.0.0.1:6379").unwrap_err();
    assert!(
        matches!(&error, StoreError::Io(io) if io.kind() == ErrorKind::InvalidInput),
        "{error:?}"
    );
}

#[test]
fn a_server_that_does_not_answer_times_out_as_unavailable() {
    // The kernel completes the connection into the listener's backlog; nobody answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut options = RedisOptions::default();
    options.connect_timeout = Duration::from_millis(200);
    let url = format!("redis://{}", silent.local_addr().unwrap());
    let error = RedisStore::open_with(&url, options).unwrap_err();
    assert!(
        matches!(&error, StoreError::Unavailable(why) if why.contains("no answer within 200ms")),
        "{error:?}"
    );
}

#[test]
fn an_append_whose_server_stalls_is_in_doubt_and_the_records_tell() {
    let Some(server) = RedisServer::start_durable() else {
        return;
    };
    let mut options = RedisOptions::default();
    options.connect_timeout = Duration::from_millis(200);
    options.io_timeout = Duration::from_millis(200);
    let store = RedisStore::open_with(&server.url(), options).unwrap();
    let lease = store.acquire("conv", "a", 0, TTL).unwrap();
    let written = records(0, 3, 10);
    store.append(&lease, &written).unwrap();
    server.pause();
    let next = records(3, 4, 10);
    let error = store.append(&lease, &next).unwrap_err();
    assert!(
        matches!(&error, StoreError::InDoubt(why) if why.contains("no answer within 200ms")),
        "{error:?}"
    );
    server.resume();
    // The stalled server may still run the append it had received: the records say.
    let stored = store.read("conv").unwrap();
    assert!(
        stored == written || stored == records(0, 4, 10),
        "{stored:?}"
    );
    let mut expected = stored.clone();
    if stored == written {
        store.append(&lease, &next).unwrap();
        expected.extend(next);
    } else {
        assert!(matches!(
            store.append(&lease, &next),
            Err(StoreError::Conflict {
                expected_seq: 4,
                found_seq: 3,
                ..
            })
        ));
    }
    assert_eq!(store.read("conv").unwrap(), expected);
}

#[test]
fn a_server_killed_mid_run_loses_nothing_it_acknowledged() {
    let Some(mut server) = RedisServer::start_durable() else {
        return;
    };
    let (store, lease) = open(&server);
    let written = records(0, 5, 100);
    for record in &written {
        store.append(&lease, std::slice::from_ref(record)).unwrap();
    }
    server.kill();
    let next = records(5, 6, 100);
    // The connection dies under the append, and the server cannot be asked whether the
    // append landed: in doubt. Then it is plainly unreachable.
    let in_doubt = store.append(&lease, &next).unwrap_err();
    assert!(matches!(in_doubt, StoreError::InDoubt(_)), "{in_doubt:?}");
    for refused in [
        store.append(&lease, &next),
        store.read("conv").map(drop),
        store.renew(&lease, 1, TTL).map(drop),
        store.acquire("conv", "b", u64::MAX, TTL).map(drop),
    ] {
        assert!(
            matches!(&refused, Err(StoreError::Unavailable(why)) if why.contains("refused")),
            "{refused:?}"
        );
    }
    server.restart();
    assert_eq!(
        store.read("conv").unwrap(),
        written,
        "all acknowledged, nothing else"
    );
    // The lease survived too: the same worker goes on where it stopped.
    store.append(&lease, &next).unwrap();
    assert_eq!(store.read("conv").unwrap(), records(0, 6, 100));
}

#[test]
fn a_restarted_server_is_reconnected_to_without_an_error() {
    let Some(mut server) = RedisServer::start_durable() else {
        return;
    };
    let (store, lease) = open(&server);
    store.append(&lease, &records(0, 2, 10)).unwrap();
    server.restart();
    // The old connection fails under the append; the store finds the batch not stored and
    // sends it again on a new connection.
    store.append(&lease, &records(2, 4, 10)).unwrap();
    assert_eq!(store.read("conv").unwrap(), records(0, 4, 10));
}

#[test]
fn a_full_server_refuses_a_whole_batch_and_keeps_the_rest() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (store, lease) = open(&server);
    let mut admin = raw(&server);
    let info: String = redis::cmd("INFO").arg("memory").query(&mut admin).unwrap();
    let used: u64 = info
        .lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap();
    let set_limit = |admin: &mut redis::Connection, bytes: u64| {
        redis::cmd("CONFIG")
            .arg(&["SET", "maxmemory", &bytes.to_string()])
            .query::<()>(admin)
            .unwrap();
    };
    set_limit(&mut admin, used + 512 * 1024);
    let mut stored = 0;
    let full = loop {
        assert!(stored < 1_000, "a 512 KiB allowance never filled up");
        match store.append(&lease, &records(stored, stored + 4, 16 * 1024)) {
            Ok(()) => stored += 4,
            Err(error) => break error,
        }
    };
    assert!(
        matches!(&full, StoreError::Io(io) if io.kind() == ErrorKind::StorageFull),
        "{full:?}"
    );
    assert!(stored > 0);
    assert_eq!(
        store.read("conv").unwrap(),
        records(0, stored, 16 * 1024),
        "nothing of the refused batch"
    );
    set_limit(&mut admin, 0);
    store
        .append(&lease, &records(stored, stored + 4, 16 * 1024))
        .unwrap();
    assert_eq!(store.read("conv").unwrap().len() as u64, stored + 4);
}

#[test]
fn a_stored_record_that_does_not_decode_is_corrupt() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (store, lease) = open(&server);
    store.append(&lease, &records(0, 2, 10)).unwrap();
    redis::cmd("LSET")
        .arg(&["responses-ws:{conv}:records", "1", "{}"])
        .query::<()>(&mut raw(&server))
        .unwrap();
    let error = store.read("conv").unwrap_err();
    assert!(
        matches!(&error, StoreError::Corrupt { conversation, .. } if conversation == "conv"),
        "{error:?}"
    );
    // A record that decodes but sits where it does not belong is no better.
    let misplaced = String::from_utf8(serde_json::to_vec(&records(0, 1, 10)[0]).unwrap()).unwrap();
    redis::cmd("LSET")
        .arg(&["responses-ws:{conv}:records", "1", &misplaced])
        .query::<()>(&mut raw(&server))
        .unwrap();
    let error = store.read("conv").unwrap_err();
    assert!(
        matches!(&error, StoreError::Corrupt { reason, .. } if reason.contains("index 1")),
        "{error:?}"
    );
}

#[test]
fn two_deployments_share_a_server_under_their_own_prefixes() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (store, lease) = open(&server);
    store.append(&lease, &records(0, 1, 10)).unwrap();
    let mut options = RedisOptions::default();
    options.key_prefix = "staging:".into();
    let staging = RedisStore::open_with(&server.url(), options).unwrap();
    assert!(staging.read("conv").unwrap().is_empty());
    // Its own lease: granted although production holds the same conversation.
    let other = staging.acquire("conv", "b", 0, TTL).unwrap();
    staging.append(&other, &records(0, 1, 20)).unwrap();
    assert_eq!(store.read("conv").unwrap(), records(0, 1, 10));
}

#[test]
fn a_redis_url_opens_a_redis_store_and_a_path_a_file() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let redis = responses_ws_store::open(&server.url()).unwrap();
    let lease = redis.acquire("conv", "a", 0, TTL).unwrap();
    redis.append(&lease, &records(0, 1, 10)).unwrap();
    let again = RedisStore::open(&server.url()).unwrap();
    assert_eq!(again.read("conv").unwrap(), records(0, 1, 10));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let file = responses_ws_store::open(path.to_str().unwrap()).unwrap();
    let lease = file.acquire("conv", "a", 0, TTL).unwrap();
    file.append(&lease, &records(0, 1, 10)).unwrap();
    assert!(path.exists());
    assert!(redis.read("other").unwrap().is_empty());

    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = responses_ws_store::open(&format!("redis://127.0.0.1:{closed}"));
    assert!(matches!(refused, Err(StoreError::Unavailable(_))));
}
