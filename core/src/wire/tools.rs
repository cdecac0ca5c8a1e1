//! Tool definitions (`tools[]`) and the tool choice (`tool_choice`) of requests and responses.
//!
//! Function and custom tools are typed because the client runs them; hosted tools (web search,
//! file search, MCP, code interpreter, …) are configured by the server and kept as raw JSON.
//! A function's `parameters` schema is kept as its JSON text ([`RawJson`]): every response echoes
//! the tools, and building a tree of each schema was most of the cost of decoding a
//! `response.completed`.

use alloc::string::String;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};

use super::raw::RawJson;

open_tagged_enum! {
    /// A tool the model may call.
    pub enum Tool {
        /// A function the client runs, called with JSON arguments.
        "function" => Function(FunctionTool),
        /// A tool the client runs, called with free-form text.
        "custom" => Custom(CustomTool),
    }
}

/// A function tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionTool {
    /// Function name.
    pub name: String,
    /// What the function does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments, as JSON text (parse it with [`RawJson::parse`] or
    /// [`RawJson::to_value`]; build one with `RawJson::from(json!(…))`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<RawJson>,
    /// Whether the arguments must match the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// A custom (free-form input) tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomTool {
    /// Tool name.
    pub name: String,
    /// What the tool does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Input format (free text or a grammar).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
}

/// Which tools the model may or must call (`tool_choice`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ToolChoice {
    /// `"auto"`: the model decides.
    Auto,
    /// `"none"`: no tool calls.
    None,
    /// `"required"`: at least one tool call.
    Required,
    /// `{"type":"function","name":…}`: this function.
    Function {
        /// Function name.
        name: String,
    },
    /// `{"type":"custom","name":…}`: this custom tool.
    Custom {
        /// Tool name.
        name: String,
    },
    /// Any other choice (`allowed_tools`, hosted tools, …), kept as sent.
    Other(Value),
}

impl Serialize for ToolChoice {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ToolChoice::Auto => serializer.serialize_str("auto"),
            ToolChoice::None => serializer.serialize_str("none"),
            ToolChoice::Required => serializer.serialize_str("required"),
            ToolChoice::Function { name } => {
                json!({"type": "function", "name": name}).serialize(serializer)
            }
            ToolChoice::Custom { name } => {
                json!({"type": "custom", "name": name}).serialize(serializer)
            }
            ToolChoice::Other(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let named = |kind: &str| {
            let name = value.get("name").and_then(Value::as_str);
            (value.get("type").and_then(Value::as_str) == Some(kind))
                .then_some(name)
                .flatten()
        };
        Ok(match value.as_str() {
            Some("auto") => ToolChoice::Auto,
            Some("none") => ToolChoice::None,
            Some("required") => ToolChoice::Required,
            Some(_) => ToolChoice::Other(value),
            None if !value.is_object() => {
                return Err(D::Error::custom(
                    "tool_choice must be a string or an object",
                ))
            }
            None => match (named("function"), named("custom")) {
                (Some(name), _) => ToolChoice::Function { name: name.into() },
                (_, Some(name)) => ToolChoice::Custom { name: name.into() },
                _ => ToolChoice::Other(value),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_tool_from_the_transcripts_round_trips() {
        let text = r#"{"type":"function","name":"get_weather","description":"Current weather for a city.","strict":true,"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}"#;
        let tool: Tool = serde_json::from_str(text).unwrap();
        let Tool::Function(function) = &tool else {
            panic!("not a function tool")
        };
        assert_eq!(function.name, "get_weather");
        assert_eq!(function.strict, Some(true));
        assert_eq!(
            serde_json::to_value(&tool).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn hosted_tools_are_kept_raw() {
        let tool: Tool =
            serde_json::from_str(r#"{"type":"web_search","search_context_size":"low"}"#).unwrap();
        assert_eq!(tool.kind(), "web_search");
        assert_eq!(
            serde_json::to_string(&tool).unwrap(),
            r#"{"search_context_size":"low","type":"web_search"}"#
        );
    }

    #[test]
    fn tool_choices_round_trip() {
        for (text, choice) in [
            (r#""auto""#, ToolChoice::Auto),
            (r#""required""#, ToolChoice::Required),
            (
                r#"{"name":"get_weather","type":"function"}"#,
                ToolChoice::Function {
                    name: "get_weather".into(),
                },
            ),
            (
                r#"{"name":"patch","type":"custom"}"#,
                ToolChoice::Custom {
                    name: "patch".into(),
                },
            ),
            (
                r#"{"type":"web_search_preview"}"#,
                ToolChoice::Other(json!({"type":"web_search_preview"})),
            ),
        ] {
            assert_eq!(serde_json::from_str::<ToolChoice>(text).unwrap(), choice);
            assert_eq!(serde_json::to_string(&choice).unwrap(), text);
        }
        assert!(serde_json::from_str::<ToolChoice>("3").is_err());
    }
}
