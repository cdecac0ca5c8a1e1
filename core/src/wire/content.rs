//! Content inside items: the parts of a message (input text, images, files, output text,
//! refusals, reasoning text), annotations, log probabilities, reasoning summary parts, and
//! [`TextOrList`], the "a string or an array" shape the API uses for inputs and contents.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// A value the API accepts either as plain text or as a list: a request's `input`, a message's
/// `content`, a tool call's `output`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TextOrList<T> {
    /// The short form: plain text.
    Text(String),
    /// The long form: a list of items or parts.
    List(Vec<T>),
}

impl<T> Default for TextOrList<T> {
    fn default() -> Self {
        TextOrList::List(Vec::new())
    }
}

impl<T> From<&str> for TextOrList<T> {
    fn from(text: &str) -> Self {
        TextOrList::Text(text.into())
    }
}

impl<T> From<String> for TextOrList<T> {
    fn from(text: String) -> Self {
        TextOrList::Text(text)
    }
}

impl<T> From<Vec<T>> for TextOrList<T> {
    fn from(list: Vec<T>) -> Self {
        TextOrList::List(list)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for TextOrList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextOrListVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for TextOrListVisitor<T> {
            type Value = TextOrList<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TextOrList::Text(v.into()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(TextOrList::Text(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(element) = seq.next_element()? {
                    list.push(element);
                }
                Ok(TextOrList::List(list))
            }
        }

        deserializer.deserialize_any(TextOrListVisitor(PhantomData))
    }
}

open_tagged_enum! {
    /// A part of a message's content.
    pub enum ContentPart {
        /// Text the user (or system, developer) wrote.
        "input_text" => InputText(InputText),
        /// An image given to the model.
        "input_image" => InputImage(InputImage),
        /// A file given to the model.
        "input_file" => InputFile(InputFile),
        /// Text the model wrote.
        "output_text" => OutputText(OutputText),
        /// The model declined to answer.
        "refusal" => Refusal(Refusal),
        /// Raw reasoning text (models that expose it).
        "reasoning_text" => ReasoningText(ReasoningText),
    }
}

impl ContentPart {
    /// Input text part.
    pub fn input_text(text: impl Into<String>) -> Self {
        ContentPart::InputText(InputText { text: text.into() })
    }

    /// The text of a text-bearing part (input, output, refusal or reasoning text).
    pub fn text(&self) -> Option<&str> {
        match self {
            ContentPart::InputText(InputText { text })
            | ContentPart::OutputText(OutputText { text, .. })
            | ContentPart::ReasoningText(ReasoningText { text })
            | ContentPart::Refusal(Refusal { refusal: text }) => Some(text),
            ContentPart::InputImage(_) | ContentPart::InputFile(_) | ContentPart::Other(_) => None,
        }
    }
}

/// An `input_text` part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputText {
    /// The text.
    pub text: String,
}

/// An `input_image` part: by URL (or data URL) or by uploaded file id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputImage {
    /// `https:` or `data:` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Uploaded file id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// `low`, `high` or `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An `input_file` part: by file id, URL or inline base64 data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// Uploaded file id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// File URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    /// Inline content (a base64 data URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// An `output_text` part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputText {
    /// The text.
    pub text: String,
    /// Citations into the text.
    #[serde(default, deserialize_with = "crate::wire::lenient::null_as_default")]
    pub annotations: Vec<Annotation>,
    /// Token log probabilities, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<LogProb>>,
}

/// A `refusal` part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Why the model declined.
    pub refusal: String,
}

/// A `reasoning_text` part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningText {
    /// The reasoning text.
    pub text: String,
}

/// A part of a reasoning summary: `{"type":"summary_text","text":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "summary_text")]
pub struct SummaryPart {
    /// The summary text.
    pub text: String,
}

open_tagged_enum! {
    /// A citation attached to output text.
    pub enum Annotation {
        /// A passage of an uploaded file.
        "file_citation" => FileCitation(FileCitation),
        /// A web page.
        "url_citation" => UrlCitation(UrlCitation),
        /// A file in a code-interpreter container.
        "container_file_citation" => ContainerFileCitation(ContainerFileCitation),
        /// A file the model generated.
        "file_path" => FilePath(FilePath),
    }
}

/// A `file_citation` annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCitation {
    /// Cited file.
    pub file_id: String,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Position in the text.
    #[serde(default)]
    pub index: u32,
}

/// A `url_citation` annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlCitation {
    /// Cited URL.
    pub url: String,
    /// Page title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Start of the cited span in the text.
    #[serde(default)]
    pub start_index: u32,
    /// End of the cited span in the text.
    #[serde(default)]
    pub end_index: u32,
}

/// A `container_file_citation` annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerFileCitation {
    /// Container id.
    pub container_id: String,
    /// Cited file.
    pub file_id: String,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Start of the cited span in the text.
    #[serde(default)]
    pub start_index: u32,
    /// End of the cited span in the text.
    #[serde(default)]
    pub end_index: u32,
}

/// A `file_path` annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePath {
    /// The generated file.
    pub file_id: String,
    /// Position in the text.
    #[serde(default)]
    pub index: u32,
}

/// The log probability of one output token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogProb {
    /// The token.
    pub token: String,
    /// Its log probability.
    pub logprob: f64,
    /// The most likely alternatives at this position.
    #[serde(default, deserialize_with = "crate::wire::lenient::null_as_default")]
    pub top_logprobs: Vec<TopLogProb>,
}

/// An alternative token and its log probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopLogProb {
    /// The token.
    pub token: String,
    /// Its log probability.
    pub logprob: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_content_parts_round_trip() {
        for part in [
            json!({"type":"input_text","text":"Say hello in five words."}),
            json!({"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"low"}),
            json!({"type":"input_file","file_id":"file_1","filename":"plan.pdf"}),
            json!({"type":"output_text","text":"Hi","annotations":[{"type":"url_citation","url":"https://e.x","title":"E","start_index":0,"end_index":2}]}),
            json!({"type":"refusal","refusal":"No."}),
            json!({"type":"reasoning_text","text":"thinking"}),
            json!({"type":"output_audio","data":"AAAA"}),
        ] {
            let parsed: ContentPart = serde_json::from_value(part.clone()).unwrap();
            assert_eq!(serde_json::to_value(&parsed).unwrap(), part);
        }
    }

    #[test]
    fn output_text_from_the_transcripts() {
        let part: ContentPart =
            serde_json::from_str(r#"{"type":"output_text","text":"Hello there, nice to meet!","annotations":[],"logprobs":[]}"#)
                .unwrap();
        assert_eq!(part.text(), Some("Hello there, nice to meet!"));
        assert_eq!(part.kind(), "output_text");
    }

    #[test]
    fn summary_parts_carry_their_type() {
        let part: SummaryPart =
            serde_json::from_str(r#"{"type":"summary_text","text":"Compare."}"#).unwrap();
        assert_eq!(part.text, "Compare.");
        assert_eq!(
            serde_json::to_string(&part).unwrap(),
            r#"{"type":"summary_text","text":"Compare."}"#
        );
    }

    #[test]
    fn text_or_list_reads_both_forms() {
        let text: TextOrList<ContentPart> = serde_json::from_str(r#""hi""#).unwrap();
        assert_eq!(text, TextOrList::Text("hi".into()));
        let list: TextOrList<ContentPart> =
            serde_json::from_str(r#"[{"type":"input_text","text":"hi"}]"#).unwrap();
        assert_eq!(
            list,
            TextOrList::List(alloc::vec![ContentPart::input_text("hi")])
        );
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            json!([{"type":"input_text","text":"hi"}])
        );
        assert!(serde_json::from_str::<TextOrList<ContentPart>>("1").is_err());
    }
}
