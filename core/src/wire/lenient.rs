//! Small serde helpers that make decoding tolerant and cheap: strings that borrow from the input
//! when they can, `null` read as a default, and values that servers spell in more than one way.
//!
//! Nothing here knows the Responses vocabulary; the vocabulary modules use these helpers through
//! `#[serde(deserialize_with = …)]` and the macros in `macros.rs`.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Reads a string, borrowing it from the input when it has no escapes.
pub(crate) struct CowStrSeed;

impl<'de> DeserializeSeed<'de> for CowStrSeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for CowStrSeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.into()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// `deserialize_with` for `Option<Cow<'a, str>>` fields: serde's own `Option<Cow<str>>` always
/// allocates, this borrows like a bare `Cow<str>` field does.
pub(crate) fn option_cow_str<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct OptionCowStr;

    impl<'de> Visitor<'de> for OptionCowStr {
        type Value = Option<Cow<'de, str>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            CowStrSeed.deserialize(deserializer).map(Some)
        }
    }

    deserializer.deserialize_option(OptionCowStr)
}

/// `deserialize_with` for fields the schema declares non-null but servers sometimes send as
/// `null`: `null` becomes the type's default.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// `deserialize_with` for optional text that some servers send as a number or boolean (error
/// `code`s, header values): any scalar becomes its JSON spelling, `null` becomes `None`.
pub(crate) fn option_scalar_as_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<ScalarText>::deserialize(deserializer)?.map(|ScalarText(text)| text))
}

/// A string, number or boolean read as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub(crate) struct ScalarText(pub(crate) String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;

        impl Visitor<'_> for ScalarVisitor {
            type Value = ScalarText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.into()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<ScalarText, E> {
                Ok(ScalarText(v))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
        }

        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// Reads a string and maps it with `from_str` without allocating for the common (known) values;
/// the body of every open string enum's `Deserialize`.
pub(crate) fn deserialize_str_with<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
    from_str: fn(&str) -> T,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct MapStr<T> {
        expecting: &'static str,
        from_str: fn(&str) -> T,
        output: PhantomData<T>,
    }

    impl<T> Visitor<'_> for MapStr<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            Ok((self.from_str)(v))
        }
    }

    deserializer.deserialize_str(MapStr {
        expecting,
        from_str,
        output: PhantomData,
    })
}

/// Serialises a value the vocabulary's own types produce. Their `Serialize` impls never fail: every
/// map key is a string and no impl reports a custom error, so failure would be a bug here.
pub(crate) fn to_json_string<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("wire types always serialise to JSON")
}
