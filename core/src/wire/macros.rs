//! The two macros that generate the open-set enums of the vocabulary.
//!
//! - `open_str_enum!`: a string enum (`"in_progress"`, `"auto"`, …) whose unknown values are kept
//!   in an `Other(String)` variant instead of failing the decode.
//! - `open_tagged_enum!`: an object enum discriminated by `type` (items, content parts, tools, …)
//!   whose unknown kinds are kept whole in an `Other(serde_json::Value)` variant; decoding goes
//!   through `tagged.rs`, so it reads the object once.
//!
//! Each table row is written once and drives the enum, its wire names and both directions of
//! serialisation.

/// Declares an open string enum: `Variant = "wire_name"` rows plus `Other(String)`.
macro_rules! open_str_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$variant_meta])* #[doc = concat!("`\"", $wire, "\"`.")] $variant, )+
            /// A value this version does not know, kept verbatim.
            Other(alloc::string::String),
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(wire: &str) -> Self {
                match wire {
                    $( $wire => Self::$variant, )+
                    other => Self::Other(other.into()),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::wire::lenient::deserialize_str_with(
                    deserializer,
                    concat!("a ", stringify!($name), " string"),
                    |wire| Self::from(wire),
                )
            }
        }
    };
}

/// Declares an open enum of objects tagged by `type`: `"wire_name" => Variant(Payload)` rows
/// (or `"wire_name" => Variant` for kinds without fields) plus `Other(serde_json::Value)`.
///
/// An optional `untagged => Variant(Payload)` clause names the variant that objects without a
/// `type` field decode as (the short form of input messages).
macro_rules! open_tagged_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $wire:literal => $variant:ident $(($payload:ty))?, )+
        }
        $( untagged => $untagged_variant:ident($untagged_payload:ty); )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        #[serde(tag = "type")]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[$variant_meta])*
                #[serde(rename = $wire)]
                $variant $(($payload))?,
            )+
            /// A kind this version does not know, kept whole (its `type` included).
            #[serde(untagged)]
            Other(serde_json::Value),
        }

        impl $name {
            /// The wire name of the kind (`type`), also for kinds kept in `Other`.
            pub fn kind(&self) -> &str {
                match self {
                    $( Self::$variant { .. } => $wire, )+
                    Self::Other(value) => value.get("type").and_then(serde_json::Value::as_str).unwrap_or(""),
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Kinds;

                impl<'de> crate::wire::tagged::TaggedVisitor<'de> for Kinds {
                    type Value = $name;

                    fn expecting(&self) -> &'static str {
                        concat!("a ", stringify!($name), " object")
                    }

                    fn visit_tagged<M: serde::de::MapAccess<'de>>(
                        self,
                        tag: alloc::borrow::Cow<'de, str>,
                        rest: M,
                    ) -> Result<$name, M::Error> {
                        match &*tag {
                            $( $wire => open_tagged_enum!(@decode $name::$variant $(($payload))?, rest), )+
                            _ => crate::wire::tagged::collect_unknown(tag, rest).map($name::Other),
                        }
                    }

                    $(
                        fn visit_untagged<M: serde::de::MapAccess<'de>>(self, rest: M) -> Result<$name, M::Error> {
                            open_tagged_enum!(@decode $name::$untagged_variant($untagged_payload), rest)
                        }
                    )?
                }

                crate::wire::tagged::deserialize_tagged(deserializer, Kinds)
            }
        }
    };
    (@decode $name:ident :: $variant:ident ($payload:ty), $rest:ident) => {
        <$payload as serde::Deserialize>::deserialize(serde::de::value::MapAccessDeserializer::new($rest))
            .map($name::$variant)
    };
    (@decode $name:ident :: $variant:ident, $rest:ident) => {
        crate::wire::tagged::skip_rest($rest).map(|()| $name::$variant)
    };
}
