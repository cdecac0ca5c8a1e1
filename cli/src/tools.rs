//! The local tools the CLI answers tool calls with, each deterministic: the two of `run`
//! (`get_weather`, `add`), the trip-planning agent's tools of the mock demo, and the two
//! harmless tools of the live demo (a calculator and a read-only lister of one directory).
//!
//! A [`Toolbox`] declares its tools (the request's `tools`) and runs a call. A tool never
//! panics on the model's arguments: bad arguments give an `{"error": …}` output, which the
//! model can read and correct.

mod calculator;
mod files;
mod trip;

use responses_ws_core::session::ToolCall;
use responses_ws_core::wire::{FunctionTool, Tool};
use serde_json::{json, Value};

pub(crate) use files::FileLister;
pub(crate) use trip::TripTools;

/// A set of local tools.
pub(crate) trait Toolbox {
    /// The tool declarations for the request's `tools`.
    fn declarations(&self) -> Vec<Tool>;

    /// Runs `call` and returns its output text (JSON).
    fn run(&mut self, call: &ToolCall) -> String;
}

/// A function tool declaration with a strict JSON schema of string/number properties, all
/// required.
pub(crate) fn function(name: &str, description: &str, properties: &[(&str, &str)]) -> Tool {
    let props: serde_json::Map<String, Value> = properties
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), json!({ "type": kind })))
        .collect();
    let required: Vec<&str> = properties.iter().map(|(name, _)| *name).collect();
    Tool::Function(FunctionTool {
        name: name.into(),
        description: Some(description.into()),
        parameters: Some(
            json!({
                "type": "object",
                "properties": props,
                "required": required,
                "additionalProperties": false,
            })
            .into(),
        ),
        strict: Some(true),
    })
}

/// The call's arguments as a JSON object, or an error output.
pub(crate) fn arguments(call: &ToolCall) -> Result<serde_json::Map<String, Value>, String> {
    match serde_json::from_str::<Value>(&call.arguments) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(error_output("the arguments must be a JSON object")),
        Err(error) => Err(error_output(&format!(
            "the arguments are not JSON: {error}"
        ))),
    }
}

/// `{"error": message}`.
pub(crate) fn error_output(message: &str) -> String {
    json!({ "error": message }).to_string()
}

/// The output for a tool this toolbox does not have.
pub(crate) fn unknown_tool(name: &str) -> String {
    error_output(&format!("unknown tool {name:?}"))
}

/// The two tools of `responses-ws run`: `get_weather(city)` and `add(a, b)`.
#[derive(Debug, Default)]
pub(crate) struct RunTools;

impl Toolbox for RunTools {
    fn declarations(&self) -> Vec<Tool> {
        vec![
            function(
                "get_weather",
                "Current weather for a city.",
                &[("city", "string")],
            ),
            function(
                "add",
                "Adds two numbers.",
                &[("a", "number"), ("b", "number")],
            ),
        ]
    }

    fn run(&mut self, call: &ToolCall) -> String {
        let args = match arguments(call) {
            Ok(args) => args,
            Err(output) => return output,
        };
        match call.name.as_str() {
            "get_weather" => match args.get("city").and_then(Value::as_str) {
                Some(city) => serde_json::to_string(&get_weather(city))
                    .unwrap_or_else(|error| error_output(&error.to_string())),
                None => error_output("`city` must be a string"),
            },
            "add" => match (args.get("a"), args.get("b")) {
                (Some(Value::Number(a)), Some(Value::Number(b))) => add(a, b).to_string(),
                _ => error_output("`a` and `b` must be numbers"),
            },
            other => unknown_tool(other),
        }
    }
}

/// The output of `get_weather`, fields in this order.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Weather<'a> {
    city: &'a str,
    temp_c: usize,
    sky: &'static str,
}

/// `{"city": city, "temp_c": len(city) * 3, "sky": "clear"}`, the length in characters.
pub(crate) fn get_weather(city: &str) -> Weather<'_> {
    let temp_c = city.chars().count().saturating_mul(3);
    Weather {
        city,
        temp_c,
        sky: "clear",
    }
}

/// `a + b` as a JSON number: an integer when both are integers and the sum fits.
pub(crate) fn add(a: &serde_json::Number, b: &serde_json::Number) -> Value {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        if let Some(sum) = a.checked_add(b) {
            return json!(sum);
        }
    }
    let sum = a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0);
    serde_json::Number::from_f64(sum).map_or(Value::Null, Value::Number)
}

/// The live demo's tools: `calculator(expression)` and `list_files(path)` inside one directory.
#[derive(Debug)]
pub(crate) struct LiveTools {
    files: FileLister,
}

impl LiveTools {
    /// Tools whose file lister never leaves `files`' root.
    pub(crate) fn new(files: FileLister) -> Self {
        LiveTools { files }
    }
}

impl Toolbox for LiveTools {
    fn declarations(&self) -> Vec<Tool> {
        vec![
            function(
                "calculator",
                "Evaluates an arithmetic expression: numbers, + - * / ^ %, parentheses.",
                &[("expression", "string")],
            ),
            function(
                "list_files",
                "Lists the entries (name, kind, size in bytes) of a directory, given relative \
                 to the user's chosen root; \".\" is the root itself.",
                &[("path", "string")],
            ),
        ]
    }

    fn run(&mut self, call: &ToolCall) -> String {
        let args = match arguments(call) {
            Ok(args) => args,
            Err(output) => return output,
        };
        match call.name.as_str() {
            "calculator" => match args.get("expression").and_then(Value::as_str) {
                Some(expression) => match calculator::evaluate(expression) {
                    Ok(value) => json!({ "expression": expression, "value": value }).to_string(),
                    Err(error) => error_output(&error.to_string()),
                },
                None => error_output("`expression` must be a string"),
            },
            "list_files" => match args.get("path").and_then(Value::as_str) {
                Some(path) => match self.files.list(path) {
                    Ok(listing) => listing.to_string(),
                    Err(error) => error_output(&error.to_string()),
                },
                None => error_output("`path` must be a string"),
            },
            other => unknown_tool(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use responses_ws_core::session::ToolCallKind;

    fn call(name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            call_id: "call_1".into(),
            name: name.into(),
            kind: ToolCallKind::Function,
            arguments: arguments.into(),
        }
    }

    #[test]
    fn get_weather_is_three_degrees_per_character() {
        let output = RunTools.run(&call("get_weather", r#"{"city":"Paris"}"#));
        assert_eq!(output, r#"{"city":"Paris","temp_c":15,"sky":"clear"}"#);
        let output = RunTools.run(&call("get_weather", r#"{"city":"Zürich"}"#));
        assert!(output.contains(r#""temp_c":18"#), "{output}");
    }

    #[test]
    fn add_keeps_integers_and_adds_floats() {
        assert_eq!(RunTools.run(&call("add", r#"{"a":2,"b":40}"#)), "42");
        assert_eq!(RunTools.run(&call("add", r#"{"a":1.5,"b":2}"#)), "3.5");
        assert_eq!(RunTools.run(&call("add", r#"{"a":-7,"b":7}"#)), "0");
    }

    #[test]
    fn bad_arguments_and_unknown_tools_give_error_outputs() {
        assert!(RunTools
            .run(&call("add", r#"{"a":"x","b":1}"#))
            .contains("error"));
        assert!(RunTools.run(&call("add", "not json")).contains("error"));
        assert!(RunTools.run(&call("get_weather", "[1]")).contains("error"));
        assert_eq!(
            RunTools.run(&call("rm", "{}")),
            r#"{"error":"unknown tool \"rm\""}"#
        );
    }
}
