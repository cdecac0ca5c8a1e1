//! What the server remembers between responses: the connection-local cache that holds the
//! latest completed response of each lane (protocol.md §2.3, the only thing a `store: false`
//! chain can continue from), and the [`ResponseStore`] of `store: true` responses.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;

use super::conversation::Conversation;

/// A lane: `None` is the default lane, `Some(stream_id)` a named one.
pub(crate) type LaneKey = Option<String>;

/// The latest completed response of each lane of one connection.
#[derive(Debug, Default)]
pub(crate) struct LaneCache {
    latest: BTreeMap<LaneKey, Conversation>,
}

impl LaneCache {
    /// The cached response `id`, with the lane it is the latest of.
    pub(crate) fn find(&self, id: &str) -> Option<(&LaneKey, &Conversation)> {
        self.latest
            .iter()
            .find(|(_, conversation)| conversation.id == id)
    }

    /// `conversation` is now the latest of `lane`; the lane's previous latest is forgotten.
    pub(crate) fn set_latest(&mut self, lane: LaneKey, conversation: Conversation) {
        self.latest.insert(lane, conversation);
    }

    /// Forgets `id` if it is still the latest of `lane` (a failed same-lane continuation).
    pub(crate) fn evict(&mut self, lane: &LaneKey, id: &str) {
        if self.latest.get(lane).is_some_and(|latest| latest.id == id) {
            self.latest.remove(lane);
        }
    }
}

/// Responses created with `store: true` (the API's default), which can be continued from
/// even when they are no longer the latest of their lane, and from other connections.
///
/// Each [`MockConnection`](super::MockConnection) and [`HttpMock`](super::HttpMock) owns one.
/// A driver that wants stored responses to outlive a connection hands a copy to the next one
/// ([`MockConnection::with_store`](super::MockConnection::with_store)) and folds the finished
/// connection's store back ([`merge`](Self::merge)). Bounded: past its capacity the oldest
/// response is forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseStore {
    responses: BTreeMap<String, Conversation>,
    order: VecDeque<String>,
    capacity: usize,
}

impl Default for ResponseStore {
    /// A store of [`Limits::default`](super::Limits)'s `max_stored` responses.
    fn default() -> Self {
        ResponseStore::new(super::Limits::default().max_stored)
    }
}

impl ResponseStore {
    /// An empty store that keeps at most `capacity` responses.
    pub fn new(capacity: usize) -> Self {
        ResponseStore {
            responses: BTreeMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// How many responses are stored.
    pub fn len(&self) -> usize {
        self.responses.len()
    }

    /// Whether no response is stored.
    pub fn is_empty(&self) -> bool {
        self.responses.is_empty()
    }

    /// Whether response `id` is stored.
    pub fn contains(&self, id: &str) -> bool {
        self.responses.contains_key(id)
    }

    /// Adds every response of `other`, oldest first.
    pub fn merge(&mut self, other: &ResponseStore) {
        for id in &other.order {
            if let Some(conversation) = other.responses.get(id) {
                self.insert(conversation.clone());
            }
        }
    }

    /// Remembers a response, forgetting the oldest when full.
    pub(crate) fn insert(&mut self, conversation: Conversation) {
        if self.capacity == 0 {
            return;
        }
        let id = conversation.id.clone();
        if self.responses.insert(id.clone(), conversation).is_none() {
            self.order.push_back(id);
        }
        while self.responses.len() > self.capacity {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.responses.remove(&oldest);
        }
    }

    /// The stored response `id`.
    pub(crate) fn get(&self, id: &str) -> Option<&Conversation> {
        self.responses.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn conversation(id: &str) -> Conversation {
        Conversation {
            id: id.into(),
            turns: 1,
            pending: Vec::new(),
            context_tokens: 0,
        }
    }

    #[test]
    fn the_store_forgets_the_oldest_past_its_capacity() {
        let mut store = ResponseStore::new(2);
        for id in ["a", "b", "a", "c"] {
            store.insert(conversation(id));
        }
        assert_eq!(store.len(), 2);
        assert!(!store.contains("a") && store.contains("b") && store.contains("c"));
        let mut merged = ResponseStore::new(8);
        merged.merge(&store);
        assert!(merged.contains("b") && merged.contains("c"));
    }

    #[test]
    fn eviction_only_removes_the_lane_latest() {
        let mut cache = LaneCache::default();
        cache.set_latest(None, conversation("a"));
        cache.set_latest(Some("x".into()), conversation("b"));
        cache.evict(&None, "b");
        assert!(cache.find("a").is_some());
        cache.evict(&Some("x".into()), "b");
        assert!(cache.find("b").is_none());
        assert_eq!(cache.find("a").map(|(lane, _)| lane.clone()), Some(None));
    }
}
