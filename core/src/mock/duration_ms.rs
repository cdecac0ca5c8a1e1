//! Durations in scripts are whole milliseconds in JSON (`"delta_delay_ms": 10`), not serde's
//! default `{"secs":…,"nanos":…}` object. Sub-millisecond parts are dropped when serialising,
//! except by [`fractional`], which writes and reads fractions of a millisecond (`0.5`).

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

/// `serde(with = "duration_ms::fractional")` for `Duration` fields that may hold fractions of a
/// millisecond: whole milliseconds are written as integers, others as decimals; any
/// non-negative finite number is read.
pub(crate) mod fractional {
    use super::*;
    use serde::de::Error;

    /// Nanoseconds in a millisecond.
    const NANOS_PER_MS: u128 = 1_000_000;

    pub(crate) fn serialize<S: Serializer>(
        duration: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let nanos = duration.as_nanos();
        match nanos % NANOS_PER_MS {
            0 => super::serialize(duration, serializer),
            _ => serializer.serialize_f64(nanos as f64 / NANOS_PER_MS as f64),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(deserializer)?;
        if !ms.is_finite() || ms < 0.0 {
            return Err(D::Error::custom(
                "a duration in milliseconds must be a non-negative number",
            ));
        }
        // Rounded to the nearest nanosecond (`as` saturates), so that `0.3` is 300 µs.
        Ok(Duration::from_nanos(
            (ms * NANOS_PER_MS as f64 + 0.5) as u64,
        ))
    }
}
