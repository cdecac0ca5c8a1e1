#!/usr/bin/env bash
# Checks that every public item of the published crates has a rustdoc example (which the doc
# tests then run): nightly rustdoc's `missing_doc_code_examples` lint, denied. Nightly is
# already CI's for the fuzz targets; the lint is unstable, hence the feature flag.
#
# Usage: tests/doc-examples.sh            fails on the first crate with an item lacking one
#        tests/doc-examples.sh --report   lists every such item and exits 0 (what tests/run
#                                         does until the count is held at zero)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

level=-D
[[ "${1:-}" == "--report" ]] && level=-W
lint=(-Z unstable-options -Zcrate-attr="feature(rustdoc_missing_doc_code_examples)"
      "$level" rustdoc::missing_doc_code_examples)
missing=0
check() {
    local log
    log="$(mktemp)"
    if ! cargo +nightly rustdoc --locked --quiet --lib "$@" -- "${lint[@]}" 2>"$log"; then
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    local found
    found="$(grep -A1 'missing code example' "$log" | grep -- '-->' | sed 's/ *--> */  /' || true)"
    [[ -n "$found" ]] && printf '%s\n' "$found"
    missing=$((missing + $(grep -c 'missing code example' "$log" || true)))
    rm -f "$log"
}
# Each crate with the features that make its public items visible.
check -p responses-ws-core
check -p responses-ws-adapter
check -p responses-ws-futures --features tokio,async-std,smol,tracing
check -p responses-ws-tokio --features mock
check -p responses-ws-blocking
check -p responses-ws-tls --features test-pki
check -p responses-ws-store
echo "doc examples: $missing public items of the seven published crates without one"
