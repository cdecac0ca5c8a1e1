//! Durations in scripts are whole milliseconds in JSON (`"delta_delay_ms": 10`), not serde's
//! default `{"secs":…,"nanos":…}` object. Sub-millisecond parts are dropped when serialising.

use core::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// `serde(with = "duration_ms")` for `Duration` fields.
pub(crate) fn serialize<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

/// `serde(with = "duration_ms")` for `Duration` fields.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_millis)
}

/// `serde(with = "duration_ms::option")` for `Option<Duration>` fields (`null` = none).
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => super::serialize(duration, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(deserializer).map(|ms| ms.map(Duration::from_millis))
    }
}
