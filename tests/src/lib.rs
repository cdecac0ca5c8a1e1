//! Shared helpers for the cross-crate, interop and conformance tests of responses-ws.

pub mod driver;

/// The README's examples, compiled as doc tests so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;
