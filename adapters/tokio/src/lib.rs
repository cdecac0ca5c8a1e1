//! The tokio adapter of responses-ws (being written).
