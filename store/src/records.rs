//! The rule every backend applies before it appends: records continue their conversation
//! one `seq` at a time. And the stored form of a record (JSON), for the byte-keeping backends.

use responses_ws_core::persist::Record;

use crate::StoreError;

/// Checks that `records` belong to `conversation` and number on from `next_seq` without a gap.
pub(crate) fn continues(
    conversation: &str,
    next_seq: u64,
    records: &[Record],
) -> Result<(), StoreError> {
    for (expected_seq, record) in (next_seq..).zip(records) {
        if record.conversation != conversation || record.seq != expected_seq {
            return Err(StoreError::Conflict {
                conversation: conversation.into(),
                expected_seq,
                found_seq: record.seq,
            });
        }
    }
    Ok(())
}

/// A record as stored.
pub(crate) fn encode(record: &Record) -> Vec<u8> {
    // Serialising a record cannot fail: its items are JSON values with string keys.
    serde_json::to_vec(record).unwrap_or_default()
}

/// A stored record, or why it does not decode.
pub(crate) fn decode(conversation: &str, bytes: &[u8]) -> Result<Record, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt {
        conversation: conversation.into(),
        reason: error.to_string(),
    })
}
