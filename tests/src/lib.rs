//! Shared helpers for the cross-crate, interop and conformance tests of responses-ws.

pub mod driver;
