//! [`open`]: a store named by one string, as a command line or a configuration file gives it
//! (a Redis URL or a file path).

use std::sync::Arc;

use crate::{FileStore, Store, StoreError};

/// The schemes that name a Redis server rather than a file.
const REDIS_SCHEMES: [&str; 4] = ["redis://", "rediss://", "redis+unix://", "unix://"];

/// Opens the store that `spec` names: a Redis URL (`redis://`, `rediss://`, `redis+unix://`,
/// `unix://`) opens a [`RedisStore`](crate::RedisStore) with the default options; anything
/// else is the path of a [`FileStore`] (created if missing).
///
/// A Redis URL in a build without the `redis` feature is [`StoreError::Io`] of kind
/// `Unsupported`.
///
/// ```
/// use std::time::Duration;
/// use responses_ws_core::persist::{Entry, Journal};
/// use responses_ws_core::session::Lane;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("conversations.sqlite");
/// let store = responses_ws_store::open(path.to_str().unwrap())?;
/// let lease = store.acquire("conv-1", "worker-a", 0, Duration::from_secs(30))?;
/// store.append(&lease, &[Journal::new("conv-1").record(Entry::Opened { lane: Lane::Default })])?;
/// assert_eq!(store.read("conv-1")?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open(spec: &str) -> Result<Arc<dyn Store + Send + Sync>, StoreError> {
    if REDIS_SCHEMES.iter().any(|scheme| spec.starts_with(scheme)) {
        return open_redis(spec);
    }
    Ok(Arc::new(FileStore::open(spec)?))
}

#[cfg(feature = "redis")]
fn open_redis(url: &str) -> Result<Arc<dyn Store + Send + Sync>, StoreError> {
    Ok(Arc::new(crate::RedisStore::open(url)?))
}

#[cfg(not(feature = "redis"))]
fn open_redis(url: &str) -> Result<Arc<dyn Store + Send + Sync>, StoreError> {
    Err(StoreError::Io(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("{url:?} names a Redis server: build responses-ws-store with the `redis` feature"),
    )))
}
