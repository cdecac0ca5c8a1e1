#!/usr/bin/env bash
# Checks that every public item of the published crates has a rustdoc example (which the doc
# tests then run): nightly rustdoc's `missing_doc_code_examples` lint, denied. Nightly is
# already CI's for the fuzz targets; the lint is unstable, hence the feature flag (stable
# rustdoc 1.95 with RUSTC_BOOTSTRAP would save the nightly check of the dependencies, but it
# also asks an example of every `impl` block). The seven crates are documented in one cargo
# call, in parallel.
#
# Usage: tests/doc-examples.sh            fails if a public item lacks one (what tests/run does)
#        tests/doc-examples.sh --report   lists every such item and exits 0
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

level=-D
[[ "${1:-}" == "--report" ]] && level=-W
export RUSTDOCFLAGS="-Z unstable-options -Zcrate-attr=feature(rustdoc_missing_doc_code_examples) $level rustdoc::missing_doc_code_examples"
# Each crate with the features that make its public items visible.
crates=(responses-ws-core responses-ws-adapter responses-ws-futures responses-ws-tokio
        responses-ws-blocking responses-ws-tls responses-ws-store)
features=(responses-ws-futures/tokio responses-ws-futures/async-std responses-ws-futures/smol
          responses-ws-futures/tracing responses-ws-blocking/tracing responses-ws-tokio/mock
          responses-ws-tls/test-pki responses-ws-store/testing)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo +nightly doc --locked --quiet --no-deps "${crates[@]/#/-p}" \
    --features "$(IFS=,; echo "${features[*]}")" 2>"$log" || status=$?
grep -A1 'missing code example' "$log" | grep -- '-->' | sed 's/ *--> */  /' || true
missing="$(grep -c 'missing code example' "$log" || true)"
if [[ $status -ne 0 ]]; then
    cat "$log" >&2
    echo "doc examples: the seven published crates' docs did not build, or a public item has no example" >&2
    exit 1
fi
echo "doc examples: $missing public items of the seven published crates without one"
