//! The futures adapter of responses-ws (being written).
