//! Single-pass decoding of JSON objects whose variant is named by a `type` field.
//!
//! serde's derived internally tagged enums buffer the whole object into an intermediate tree
//! before choosing a variant, which costs an allocation per field. Here the object's entries are
//! read in order until `type` appears (in OpenAI's frames it is almost always first); only the
//! entries seen before it are buffered, and they are replayed in front of the remaining live
//! entries to the chosen variant's own derived `Deserialize`. Strings in the live entries keep
//! borrowing from the input.
//!
//! This module knows nothing of the Responses vocabulary; `macros.rs` and `server.rs` build on it.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::fmt;

use serde::de::value::CowStrDeserializer;
use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, Visitor,
};
use serde_json::{Map, Value};

use super::lenient::CowStrSeed;

/// The name of the discriminating field.
const TAG: &str = "type";

/// Builds a value once the tag of its object is known.
pub(crate) trait TaggedVisitor<'de>: Sized {
    /// What is being decoded.
    type Value;

    /// Names the expected object in error messages, e.g. "a server event object".
    fn expecting(&self) -> &'static str;

    /// Builds the value from the tag and the object's other entries (in document order).
    fn visit_tagged<M: MapAccess<'de>>(
        self,
        tag: Cow<'de, str>,
        rest: M,
    ) -> Result<Self::Value, M::Error>;

    /// Builds the value from an object without a tag; by default that is an error.
    fn visit_untagged<M: MapAccess<'de>>(self, rest: M) -> Result<Self::Value, M::Error> {
        drop(rest);
        Err(de::Error::missing_field(TAG))
    }
}

/// Decodes a tagged object with `visitor`.
pub(crate) fn deserialize_tagged<'de, D, V>(
    deserializer: D,
    visitor: V,
) -> Result<V::Value, D::Error>
where
    D: Deserializer<'de>,
    V: TaggedVisitor<'de>,
{
    deserializer.deserialize_map(TaggedObject(visitor))
}

/// Adapts a [`TaggedVisitor`] to serde's [`Visitor`].
struct TaggedObject<V>(V);

impl<'de, V: TaggedVisitor<'de>> Visitor<'de> for TaggedObject<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.expecting())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        visit_tagged_map(map, self.0)
    }
}

/// Finds the tag in `map` and hands the rest of the object to `visitor`.
pub(crate) fn visit_tagged_map<'de, A, V>(mut map: A, visitor: V) -> Result<V::Value, A::Error>
where
    A: MapAccess<'de>,
    V: TaggedVisitor<'de>,
{
    let mut before_tag = Vec::new();
    while let Some(key) = map.next_key_seed(CowStrSeed)? {
        if key == TAG {
            let tag = map.next_value_seed(CowStrSeed)?;
            return visitor.visit_tagged(tag, Replay::new(before_tag, map, false));
        }
        let value: Value = map.next_value()?;
        before_tag.push((key, value));
    }
    visitor.visit_untagged(Replay::new(before_tag, map, true))
}

/// Reads the remaining entries of an object with an unknown tag back into a JSON object,
/// tag included, so that open-set enums can keep what they do not understand.
///
/// The tag that chose this path is the one kept: a repeated `type` key later in the object is
/// dropped, so that the kept object decodes the same way again (found by fuzzing).
pub(crate) fn collect_unknown<'de, M: MapAccess<'de>>(
    tag: Cow<'de, str>,
    mut rest: M,
) -> Result<Value, M::Error> {
    let mut object = Map::new();
    object.insert(TAG.into(), Value::String(tag.into_owned()));
    while let Some((key, value)) = rest.next_entry::<alloc::string::String, Value>()? {
        if key != TAG {
            object.insert(key, value);
        }
    }
    Ok(Value::Object(object))
}

/// Skips the remaining entries of an object.
pub(crate) fn skip_rest<'de, M: MapAccess<'de>>(mut rest: M) -> Result<(), M::Error> {
    while rest.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// The entries buffered before the tag, followed by the live entries after it.
struct Replay<'de, A> {
    buffered: alloc::vec::IntoIter<(Cow<'de, str>, Value)>,
    buffered_value: Option<Value>,
    live: A,
    live_finished: bool,
}

impl<'de, A> Replay<'de, A> {
    fn new(buffered: Vec<(Cow<'de, str>, Value)>, live: A, live_finished: bool) -> Self {
        Replay {
            buffered: buffered.into_iter(),
            buffered_value: None,
            live,
            live_finished,
        }
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if let Some((key, value)) = self.buffered.next() {
            self.buffered_value = Some(value);
            let key: CowStrDeserializer<'_, A::Error> = key.into_deserializer();
            return seed.deserialize(key).map(Some);
        }
        if self.live_finished {
            return Ok(None);
        }
        self.live.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        match self.buffered_value.take() {
            Some(value) => seed.deserialize(value).map_err(de::Error::custom),
            None => self.live.next_value_seed(seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Point<'a> {
        #[serde(borrow)]
        name: Cow<'a, str>,
        x: i32,
    }

    /// Decodes `{"type":"point",…}` as a `Point`, anything else as its tag and raw object.
    struct PointOrOther;

    #[derive(Debug, PartialEq)]
    enum Shape<'a> {
        Point(Point<'a>),
        Other(Value),
        Untagged(Vec<String>),
    }

    impl<'de> TaggedVisitor<'de> for PointOrOther {
        type Value = Shape<'de>;

        fn expecting(&self) -> &'static str {
            "a shape"
        }

        fn visit_tagged<M: MapAccess<'de>>(
            self,
            tag: Cow<'de, str>,
            rest: M,
        ) -> Result<Shape<'de>, M::Error> {
            if tag == "point" {
                let point = Point::deserialize(de::value::MapAccessDeserializer::new(rest))?;
                Ok(Shape::Point(point))
            } else {
                collect_unknown(tag, rest).map(Shape::Other)
            }
        }

        fn visit_untagged<M: MapAccess<'de>>(self, mut rest: M) -> Result<Shape<'de>, M::Error> {
            let mut keys = Vec::new();
            while let Some((key, IgnoredAny)) = rest.next_entry::<String, IgnoredAny>()? {
                keys.push(key);
            }
            Ok(Shape::Untagged(keys))
        }
    }

    fn decode(text: &str) -> Result<Shape<'_>, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let shape = deserialize_tagged(&mut deserializer, PointOrOther)?;
        deserializer.end()?;
        Ok(shape)
    }

    #[test]
    fn tag_first_borrows_the_live_entries() {
        let Shape::Point(point) = decode(r#"{"type":"point","name":"p","x":1}"#).unwrap() else {
            panic!("not a point");
        };
        assert!(matches!(point.name, Cow::Borrowed("p")));
        assert_eq!(point.x, 1);
    }

    #[test]
    fn entries_before_the_tag_are_replayed() {
        let shape = decode(r#"{"name":"p","x":2,"type":"point"}"#).unwrap();
        assert_eq!(
            shape,
            Shape::Point(Point {
                name: Cow::Borrowed("p"),
                x: 2
            })
        );
    }

    #[test]
    fn unknown_tags_keep_every_entry() {
        let shape = decode(r#"{"a":1,"type":"circle","r":3}"#).unwrap();
        assert_eq!(
            shape,
            Shape::Other(serde_json::json!({"type":"circle","a":1,"r":3}))
        );
    }

    #[test]
    fn objects_without_a_tag_reach_visit_untagged() {
        let shape = decode(r#"{"a":1,"b":[true]}"#).unwrap();
        assert_eq!(shape, Shape::Untagged(alloc::vec!["a".into(), "b".into()]));
    }

    #[test]
    fn a_non_string_tag_is_an_error() {
        assert!(decode(r#"{"type":7}"#).is_err());
        assert!(decode(r#"[1]"#).is_err());
    }
}
