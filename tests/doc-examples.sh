#!/usr/bin/env bash
# Checks that every public item of the published crates has a rustdoc example (which the doc
# tests then run): nightly rustdoc's `missing_doc_code_examples` lint, denied. Nightly is
# already CI's for the fuzz targets; the lint is unstable, hence the feature flag.
#
# Usage: tests/doc-examples.sh            (from anywhere)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

lint=(-Z unstable-options -Zcrate-attr="feature(rustdoc_missing_doc_code_examples)"
      -D rustdoc::missing_doc_code_examples)
check() {
    cargo +nightly rustdoc --locked --quiet --lib "$@" -- "${lint[@]}"
}
# Each crate with the features that make its public items visible.
check -p responses-ws-core
check -p responses-ws-adapter
check -p responses-ws-futures --features tokio,async-std,smol,tracing
check -p responses-ws-tokio --features mock
check -p responses-ws-blocking
check -p responses-ws-tls --features test-pki
check -p responses-ws-store
echo "doc examples: every public item of the seven published crates has one"
