//! The blocking adapter of responses-ws (being written).
