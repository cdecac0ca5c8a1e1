//! [`RawJson`]: a JSON value kept as its text, for the parts of a response the client only
//! carries along (tool schemas), so that decoding checks them without building a tree of them.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use alloc::borrow::{Cow, ToOwned};
use serde::de::value::SeqAccessDeserializer;
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A JSON value kept as the text it arrived in (checked to be JSON, never parsed into a tree
/// until asked), and written back as that same text.
///
/// Equality compares the text: `{"a":1}` and `{ "a": 1 }` are different `RawJson`s. Compare
/// [`to_value`](Self::to_value)s to compare meanings.
///
/// ```
/// use responses_ws_core::wire::RawJson;
/// use serde_json::json;
///
/// let schema = RawJson::from(json!({"type": "object", "required": ["city"]}));
/// assert_eq!(schema.as_str(), r#"{"required":["city"],"type":"object"}"#);
/// assert_eq!(schema.to_value()["required"][0], "city");
/// assert!(RawJson::from_text("{not json").is_err());
/// ```
#[derive(Clone)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// Checks that `text` is one JSON value and keeps it as it is.
    pub fn from_text(text: impl Into<String>) -> Result<RawJson, serde_json::Error> {
        RawValue::from_string(text.into()).map(RawJson)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// Parses the text into `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.as_str())
    }

    /// The value as a tree.
    pub fn to_value(&self) -> Value {
        // The text was checked to be JSON, and every JSON text is a `Value`.
        self.parse().unwrap_or(Value::Null)
    }
}

impl From<Value> for RawJson {
    fn from(value: Value) -> Self {
        // Writing a `Value` as JSON cannot fail.
        RawJson(
            serde_json::value::to_raw_value(&value).unwrap_or_else(|_| RawValue::NULL.to_owned()),
        )
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// The name under which serde_json hands out a value's text instead of the value (its
/// `RawValue` protocol). A deserializer that does not know it hands out the value itself, which
/// is then written back as text; a test checks that serde_json still takes the fast way.
const RAW_TEXT: &str = "$serde_json::private::RawValue";

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(RAW_TEXT, RawJsonVisitor)
    }
}

struct RawJsonVisitor;

impl<'de> Visitor<'de> for RawJsonVisitor {
    type Value = RawJson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    /// serde_json: a map with one entry, [`RAW_TEXT`] and the text.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawJson, A::Error> {
        let Some(first) = map.next_key::<Cow<'de, str>>()? else {
            return Ok(RawJson::from(Value::Object(Map::new())));
        };
        if first == RAW_TEXT {
            let text: Cow<'de, str> = map.next_value()?;
            return RawJson::from_text(text.into_owned()).map_err(de::Error::custom);
        }
        // An object handed out as it is: read it whole.
        let mut object = Map::new();
        object.insert(first.into_owned(), map.next_value()?);
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            object.insert(key, value);
        }
        Ok(RawJson::from(Value::Object(object)))
    }

    /// Deserializers that buffer (serde's `flatten`) hand out the value itself.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, value: D) -> Result<RawJson, D::Error> {
        Value::deserialize(value).map(RawJson::from)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawJson, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(RawJson::from)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawJson, E> {
        Ok(RawJson::from(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawJson, E> {
        Ok(RawJson::from(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawJson, E> {
        Ok(RawJson::from(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawJson, E> {
        Ok(RawJson::from(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawJson, E> {
        Ok(RawJson::from(Value::from(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawJson, E> {
        Ok(RawJson::from(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<RawJson, E> {
        Ok(RawJson::from(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_the_text_it_was_given_and_writes_it_back() {
        let text = r#"{"type":"object","properties":{"city":{"type":"string"}}}"#;
        let raw: RawJson = serde_json::from_str(text).unwrap();
        assert_eq!(raw.as_str(), text);
        assert_eq!(serde_json::to_string(&raw).unwrap(), text);
        assert_eq!(raw.to_value()["properties"]["city"]["type"], "string");
        assert_eq!(serde_json::to_value(&raw).unwrap(), raw.to_value());
    }

    #[test]
    fn serde_json_hands_out_the_text() {
        // Whitespace is kept: the text was not rebuilt from a tree.
        let raw: RawJson = serde_json::from_str(r#"{ "a" : [1, 2] }"#).unwrap();
        assert_eq!(raw.as_str(), r#"{ "a" : [1, 2] }"#);
    }

    #[test]
    fn is_read_from_buffered_content_too() {
        // `flatten` buffers the fields of the struct that holds it.
        #[derive(Deserialize)]
        struct Holder {
            schema: RawJson,
            #[serde(flatten)]
            _rest: Map<String, Value>,
        }
        let holder: Holder =
            serde_json::from_str(r#"{"schema":{"a":[1,{"b":null}]},"x":1}"#).unwrap();
        assert_eq!(holder.schema.as_str(), r#"{"a":[1,{"b":null}]}"#);
        let holder: Holder = serde_json::from_str(r#"{"schema":[true,"s",-1,2.5]}"#).unwrap();
        assert_eq!(holder.schema.as_str(), r#"[true,"s",-1,2.5]"#);
    }

    #[test]
    fn is_read_from_a_tree_too() {
        // A tagged object buffered before its tag is replayed from a `Value`.
        let raw: RawJson = serde_json::from_value(json!({"a": [1, 2]})).unwrap();
        assert_eq!(raw.as_str(), r#"{"a":[1,2]}"#);
    }

    #[test]
    fn refuses_what_is_not_json() {
        assert!(RawJson::from_text("{").is_err());
        assert!(RawJson::from_text("1 2").is_err());
        assert!(serde_json::from_str::<RawJson>("[1,").is_err());
    }
}
