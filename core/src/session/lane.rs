//! Lane names: the default lane and the named `stream_id` lanes of one connection.

use alloc::string::String;
use alloc::sync::Arc;
use core::borrow::Borrow;
use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire::is_valid_stream_id;

/// A lane of a connection: an ordered conversation whose requests never overlap.
///
/// The default lane sends no `stream_id`; a named lane sends its name as `stream_id`, and the
/// server echoes it on every event of that lane. With serde a lane is its name, and the
/// default lane the empty string (never a valid `stream_id`). A lane compares, orders and
/// hashes as that string too, so maps keyed by lanes can be searched with a `stream_id`
/// (`&str`) without building a lane; a clone shares the name.
///
/// ```
/// use responses_ws_core::session::Lane;
///
/// let planner = Lane::named("planner")?;
/// assert_eq!(planner.stream_id(), Some("planner"));
/// assert_eq!(Lane::Default.stream_id(), None);
/// assert!(Lane::named("bad lane!").is_err());
/// # Ok::<(), responses_ws_core::session::InvalidLaneName>(())
/// ```
#[derive(Debug, Clone, Default)]
pub enum Lane {
    /// The lane of requests without a `stream_id`.
    #[default]
    Default,
    /// A lane named by its `stream_id` (1–256 characters of `A–Z a–z 0–9 _ . -`).
    Named(Arc<str>),
}

/// A `stream_id` the server would refuse with `invalid_stream_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidLaneName(pub String);

impl fmt::Display for InvalidLaneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid lane name {:?}: a stream_id has 1 to 256 characters of A-Z a-z 0-9 _ . -",
            self.0
        )
    }
}

impl core::error::Error for InvalidLaneName {}

impl Lane {
    /// A named lane, checked against the server's `stream_id` syntax.
    pub fn named(name: impl Into<String>) -> Result<Lane, InvalidLaneName> {
        let name = name.into();
        if is_valid_stream_id(&name) {
            Ok(Lane::Named(name.into()))
        } else {
            Err(InvalidLaneName(name))
        }
    }

    /// The lane of a server event or request: its `stream_id`, or the default lane.
    pub fn from_stream_id(stream_id: Option<&str>) -> Lane {
        stream_id.map_or(Lane::Default, |name| Lane::Named(name.into()))
    }

    /// The `stream_id` to send: `None` on the default lane.
    pub fn stream_id(&self) -> Option<&str> {
        match self {
            Lane::Default => None,
            Lane::Named(name) => Some(name),
        }
    }
}

/// The key a lane is compared by: its `stream_id`, or `""` for the default lane (which no
/// named lane can have, so the default lane sorts first and equals no named lane).
impl Borrow<str> for Lane {
    fn borrow(&self) -> &str {
        self.stream_id().unwrap_or("")
    }
}

impl PartialEq for Lane {
    fn eq(&self, other: &Lane) -> bool {
        Borrow::<str>::borrow(self) == Borrow::<str>::borrow(other)
    }
}

impl Eq for Lane {}

impl PartialOrd for Lane {
    fn partial_cmp(&self, other: &Lane) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Lane {
    fn cmp(&self, other: &Lane) -> Ordering {
        Borrow::<str>::borrow(self).cmp(Borrow::<str>::borrow(other))
    }
}

impl Hash for Lane {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Borrow::<str>::borrow(self).hash(state)
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lane::Default => f.write_str("(default lane)"),
            Lane::Named(name) => f.write_str(name),
        }
    }
}

impl Serialize for Lane {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.stream_id().unwrap_or(""))
    }
}

impl<'de> Deserialize<'de> for Lane {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if name.is_empty() {
            return Ok(Lane::Default);
        }
        Lane::named(name).map_err(serde::de::Error::custom)
    }
}
