//! The ledger: per lane, the whole conversation as input items, and what the server's
//! connection-local cache still holds of it. It decides, for each request, whether to chain
//! (`previous_response_id` plus only the new items) or to resend the full context, and it can be
//! saved and restored with serde so a conversation continues on another connection or process.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::inject::interleave;
use super::lane::Lane;
use crate::wire::{ContentPart, Item, MessageContent, OutputText, Response, ResponseCreate, Role};

/// Why a request carries the full context instead of chaining from the lane's last response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FullContextReason {
    /// The connection that cached the last response is gone (reconnect, restored ledger).
    NewConnection,
    /// The server evicted the last response: a continuation of it failed.
    Evicted,
    /// The server answered `previous_response_not_found`; this is the one automatic replay.
    PreviousResponseNotFound,
    /// A non-input field (model, tools, instructions …) differs from the last request.
    SettingsChanged,
}

/// What one request sends: the chaining id (if any) and the input items.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub(crate) previous_response_id: Option<String>,
    pub(crate) input: Vec<Item>,
    /// Set when the lane has a previous response but the request cannot chain from it.
    pub(crate) full_context: Option<FullContextReason>,
}

/// One lane's conversation.
///
/// Invariants: `covered <= items.len()`; `items[..covered]` is exactly the context of
/// `last_response_id` (its input and its output); `items[covered..]` are items the server has
/// not seen as part of a completed response (new input, tool outputs, the input of a failed
/// request). `cached` is never true without `last_response_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaneLedger {
    items: Vec<Item>,
    covered: usize,
    last_response_id: Option<String>,
    /// The non-input settings of the request that produced `last_response_id`.
    settings: Option<ResponseCreate>,
    /// Whether this connection's server cache holds `last_response_id`: never restored.
    #[serde(skip)]
    cached: bool,
    /// Why `cached` became false, for the report of the next full-context request.
    #[serde(skip)]
    lost_because: Option<FullContextReason>,
}

impl LaneLedger {
    /// Every item of the conversation, in order, as it would be resent.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// The last completed response of the lane.
    pub fn last_response_id(&self) -> Option<&str> {
        self.last_response_id.as_deref()
    }

    /// Items not yet part of a completed response (they go out with the next request).
    pub fn unsent(&self) -> &[Item] {
        &self.items[self.covered..]
    }

    /// Adds new input to the conversation (as input items).
    pub(crate) fn push_input(&mut self, items: impl IntoIterator<Item = Item>) {
        self.items.extend(items.into_iter().map(as_input));
    }

    /// Decides what a request with `settings` sends.
    pub(crate) fn plan(&self, settings: &ResponseCreate) -> Plan {
        let Some(last) = &self.last_response_id else {
            let input = self.full_context();
            return Plan {
                previous_response_id: None,
                input,
                full_context: None,
            };
        };
        let same_settings = self.settings.as_ref() == Some(&settings_of(settings));
        // With `store: true` the server can hydrate the response on any connection.
        let reachable = self.cached
            || (stored(settings)
                && self
                    .lost_because
                    .is_none_or(|why| why == FullContextReason::NewConnection));
        if same_settings && reachable {
            let input = self.items[self.covered..].to_vec();
            return Plan {
                previous_response_id: Some(last.clone()),
                input,
                full_context: None,
            };
        }
        let reason = if !same_settings {
            FullContextReason::SettingsChanged
        } else {
            self.lost_because
                .unwrap_or(FullContextReason::NewConnection)
        };
        Plan {
            previous_response_id: None,
            input: self.full_context(),
            full_context: Some(reason),
        }
    }

    /// The whole conversation as a request without `previous_response_id` sends it. Reasoning
    /// items go only with their `encrypted_content`: without it they stand for state that
    /// only the server that made them had, and a server that lost the chain has lost them too.
    fn full_context(&self) -> Vec<Item> {
        let replayable =
            |item: &&Item| !matches!(item, Item::Reasoning(r) if r.encrypted_content.is_none());
        self.items.iter().filter(replayable).cloned().collect()
    }

    /// The lane's request (sent with `settings`) produced `response`: its output joins the
    /// context and it becomes the response to chain from, with the items `injected` into it
    /// (`response.inject`) right after the calls they answer. Everything pushed before (the
    /// request's input, steering input the server applied) is now covered by it.
    pub(crate) fn commit(
        &mut self,
        settings: &ResponseCreate,
        response: &Response,
        injected: Vec<Item>,
    ) {
        let output = interleave(&response.output, injected);
        self.items.extend(output.into_iter().map(as_input));
        self.covered = self.items.len();
        self.last_response_id = Some(response.id.clone());
        self.settings = Some(settings_of(settings));
        self.cached = true;
        self.lost_because = None;
    }

    /// The server no longer holds the last response (or never did on this connection).
    pub(crate) fn forget(&mut self, why: FullContextReason) {
        self.cached = false;
        self.lost_because = Some(why);
    }
}

/// Every lane's conversation: what to save to continue elsewhere.
///
/// ```
/// use responses_ws_core::session::{Lane, Ledger};
///
/// let ledger = Ledger::default();
/// let saved = serde_json::to_string(&ledger).unwrap();
/// let restored: Ledger = serde_json::from_str(&saved).unwrap();
/// assert!(restored.lane(&Lane::Default).is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// Boxed: a B-tree leaf has room for 11 entries, and a ledger of one or two lanes would
    /// otherwise hold 11 `LaneLedger`s' worth of memory (about 10 KiB).
    lanes: BTreeMap<Lane, Box<LaneLedger>>,
}

impl Ledger {
    /// One lane's conversation.
    pub fn lane(&self, lane: &Lane) -> Option<&LaneLedger> {
        self.lanes.get(lane).map(|ledger| &**ledger)
    }

    /// Every lane with its conversation.
    pub fn lanes(&self) -> impl Iterator<Item = (&Lane, &LaneLedger)> {
        self.lanes.iter().map(|(lane, ledger)| (lane, &**ledger))
    }

    /// Gives back the root node an emptied map keeps (every lane moved out).
    pub(crate) fn release_idle_memory(&mut self) {
        if self.lanes.is_empty() {
            self.lanes = BTreeMap::new();
        }
    }

    pub(crate) fn lane_mut(&mut self, lane: &Lane) -> &mut LaneLedger {
        self.lanes.entry(lane.clone()).or_default()
    }

    /// Removes one lane's conversation (it moves to another session).
    pub(crate) fn take_lane(&mut self, lane: &Lane) -> Option<LaneLedger> {
        self.lanes.remove(lane).map(|ledger| *ledger)
    }

    /// A new connection: no lane's last response is cached any more.
    pub(crate) fn new_connection(&mut self) {
        for ledger in self.lanes.values_mut() {
            ledger.forget(FullContextReason::NewConnection);
        }
    }
}

/// The settings of a request without its per-request fields: what must stay equal for a
/// request to chain (codex's rule: any other change sends the full context).
pub(crate) fn settings_of(request: &ResponseCreate) -> ResponseCreate {
    ResponseCreate {
        input: None,
        previous_response_id: None,
        stream_id: None,
        generate: None,
        ..request.clone()
    }
}

fn stored(settings: &ResponseCreate) -> bool {
    settings.store == Some(true)
}

/// An output item as it is resent as input: without `status`, and without the ids of items the
/// server does not persist with `store: false` (reasoning keeps its id with its encrypted
/// content, as the API requires).
///
/// An assistant message of one plain `output_text` part (no annotations, no log
/// probabilities) is resent in the short form, its text as `content`: the same input for the
/// model, fewer bytes, and accepted by simpler servers.
pub(crate) fn as_input(item: Item) -> Item {
    match item {
        Item::Message(mut message) => {
            message.id = None;
            message.status = None;
            if message.role == Role::Assistant {
                message.content = short_form(message.content);
            }
            Item::Message(message)
        }
        Item::FunctionCall(mut call) => {
            call.id = None;
            call.status = None;
            Item::FunctionCall(call)
        }
        Item::CustomToolCall(mut call) => {
            call.id = None;
            call.status = None;
            Item::CustomToolCall(call)
        }
        Item::FunctionCallOutput(mut output) => {
            output.id = None;
            output.status = None;
            Item::FunctionCallOutput(output)
        }
        Item::Reasoning(mut reasoning) => {
            reasoning.status = None;
            Item::Reasoning(reasoning)
        }
        other => other,
    }
}

/// One plain `output_text` part as text; any other content as it is.
fn short_form(content: MessageContent) -> MessageContent {
    match content {
        MessageContent::List(mut parts) if parts.len() == 1 => match parts.pop() {
            Some(ContentPart::OutputText(OutputText {
                text,
                annotations,
                logprobs: None,
            })) if annotations.is_empty() => MessageContent::Text(text),
            Some(part) => MessageContent::List(alloc::vec![part]),
            None => MessageContent::List(parts),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(model: &str) -> ResponseCreate {
        ResponseCreate {
            model: Some(model.into()),
            store: Some(false),
            ..ResponseCreate::default()
        }
    }

    fn response(id: &str, output: Vec<Item>) -> Response {
        serde_json::from_value(serde_json::json!({
            "id": id, "object": "response", "created_at": 1, "model": "m",
            "output": output, "status": "completed"
        }))
        .unwrap()
    }

    #[test]
    fn a_fresh_lane_sends_everything_without_a_previous_id() {
        let mut lane = LaneLedger::default();
        lane.push_input([Item::user_message("hi")]);
        let plan = lane.plan(&settings("m"));
        assert_eq!(
            plan,
            Plan {
                previous_response_id: None,
                input: vec![Item::user_message("hi")],
                full_context: None
            }
        );
    }

    #[test]
    fn a_cached_lane_chains_with_only_the_new_items() {
        let mut lane = LaneLedger::default();
        lane.push_input([Item::user_message("hi")]);
        lane.commit(
            &settings("m"),
            &response("resp_1", vec![Item::user_message("out")]),
            Vec::new(),
        );
        lane.push_input([Item::function_call_output("call_1", "42")]);
        let plan = lane.plan(&settings("m"));
        assert_eq!(plan.previous_response_id.as_deref(), Some("resp_1"));
        assert_eq!(plan.input, vec![Item::function_call_output("call_1", "42")]);
        assert_eq!(plan.full_context, None);
        assert_eq!(lane.items().len(), 3);
    }

    #[test]
    fn lost_cache_or_changed_settings_send_the_full_context_with_a_reason() {
        let mut lane = LaneLedger::default();
        lane.push_input([Item::user_message("hi")]);
        lane.commit(&settings("m"), &response("resp_1", vec![]), Vec::new());
        lane.push_input([Item::user_message("more")]);

        let changed = lane.plan(&settings("other"));
        assert_eq!(
            (changed.previous_response_id, changed.full_context),
            (None, Some(FullContextReason::SettingsChanged))
        );
        assert_eq!(changed.input.len(), 2);

        lane.forget(FullContextReason::Evicted);
        let evicted = lane.plan(&settings("m"));
        assert_eq!(
            (evicted.previous_response_id, evicted.full_context),
            (None, Some(FullContextReason::Evicted))
        );
        assert_eq!(
            evicted.input,
            vec![Item::user_message("hi"), Item::user_message("more")]
        );
    }

    #[test]
    fn stored_responses_chain_across_connections_but_not_after_eviction() {
        let stored = ResponseCreate {
            store: Some(true),
            ..settings("m")
        };
        let mut lane = LaneLedger::default();
        lane.push_input([Item::user_message("hi")]);
        lane.commit(&stored, &response("resp_1", vec![]), Vec::new());
        lane.forget(FullContextReason::NewConnection);
        assert_eq!(
            lane.plan(&stored).previous_response_id.as_deref(),
            Some("resp_1")
        );
        lane.forget(FullContextReason::PreviousResponseNotFound);
        assert_eq!(
            lane.plan(&stored).full_context,
            Some(FullContextReason::PreviousResponseNotFound)
        );
    }

    #[test]
    fn output_items_are_resent_without_status_and_ids_except_reasoning() {
        let output: Vec<Item> = serde_json::from_str(
            r#"[{"id":"rs_1","type":"reasoning","summary":[],"encrypted_content":"enc","status":"completed"},
                {"id":"fc_1","type":"function_call","call_id":"call_1","name":"f","arguments":"{}","status":"completed"}]"#,
        )
        .unwrap();
        let mut lane = LaneLedger::default();
        lane.commit(&settings("m"), &response("resp_1", output), Vec::new());
        let json = serde_json::to_string(lane.items()).unwrap();
        assert_eq!(
            json,
            r#"[{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"enc"},{"type":"function_call","call_id":"call_1","name":"f","arguments":"{}"}]"#
        );
    }

    #[test]
    fn replays_drop_reasoning_without_its_encrypted_content_and_shorten_plain_answers() {
        let output: Vec<Item> = serde_json::from_str(
            r#"[{"id":"rs_1","type":"reasoning","summary":[]},
                {"id":"rs_2","type":"reasoning","summary":[],"encrypted_content":"enc"},
                {"id":"msg_1","type":"message","role":"assistant","content":[{"type":"output_text","text":"Plain.","annotations":[]}]},
                {"id":"msg_2","type":"message","role":"assistant","content":[{"type":"output_text","text":"Cited.","annotations":[{"type":"url_citation","url":"https://example.com","title":"t","start_index":0,"end_index":5}]}]}]"#,
        )
        .unwrap();
        let mut lane = LaneLedger::default();
        lane.push_input([Item::user_message("hi")]);
        lane.commit(&settings("m"), &response("resp_1", output), Vec::new());
        lane.forget(FullContextReason::NewConnection);
        let plan = lane.plan(&settings("m"));
        let json = serde_json::to_value(&plan.input).unwrap();
        assert_eq!(plan.input.len(), 4, "rs_1 is left out: {json}");
        assert_eq!(json[1]["id"], "rs_2");
        assert_eq!(json[2]["content"], "Plain.");
        assert_eq!(
            json[3]["content"][0]["annotations"][0]["url"],
            "https://example.com"
        );
        assert_eq!(lane.items().len(), 5, "the ledger keeps everything");
    }

    #[test]
    fn a_saved_ledger_restores_everything_but_the_cache() {
        let mut ledger = Ledger::default();
        let lane = ledger.lane_mut(&Lane::named("a").unwrap());
        lane.push_input([Item::user_message("hi")]);
        lane.commit(&settings("m"), &response("resp_1", vec![]), Vec::new());
        let restored: Ledger =
            serde_json::from_str(&serde_json::to_string(&ledger).unwrap()).unwrap();
        let lane = restored.lane(&Lane::named("a").unwrap()).unwrap();
        assert_eq!(lane.last_response_id(), Some("resp_1"));
        assert_eq!(
            lane.plan(&settings("m")).full_context,
            Some(FullContextReason::NewConnection)
        );
    }
}
