#!/usr/bin/env bash
# Instructions per item of bench cases, counted by callgrind: the case runs `ITERATIONS` times
# (default 10) inside `FixedRun::run`, the only function whose instructions are collected (so
# setup is not counted), and the count is divided by iterations × items per iteration.
#
#   core/benches/callgrind.sh BENCH ITEMS_PER_ITERATION CASE...
#   core/benches/callgrind.sh ws_decode 1000 ws_decode_unmasked/ours_copy/128B ws_decode_unmasked/tungstenite/128B
#
# CASE is criterion's name of the case, group/library/label. Builds the bench binary first.
# KEEP=dir keeps each profile there, for callgrind_annotate. BINARY=path runs that bench binary
# instead of building one (to count a build of another revision).
set -euo pipefail
bench=$1 items=$2
shift 2
iterations=${ITERATIONS:-10}
cd "$(dirname "$0")/../.."
binary=${BINARY:-$(cargo bench -p responses-ws-benches --bench "$bench" --no-run --message-format json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)}
for case in "$@"; do
    out=$(mktemp)
    BENCH_CASE=$case BENCH_ITERATIONS=$iterations valgrind --tool=callgrind \
        --collect-atstart=no --toggle-collect='responses_ws_benches::FixedRun::run' \
        --callgrind-out-file="$out" "$binary" >/dev/null 2>&1
    total=$(sed -n 's/^summary: //p' "$out")
    echo "$case $(( total / (iterations * items) ))"
    if [ -n "${KEEP:-}" ]; then
        mkdir -p "$KEEP" && mv "$out" "$KEEP/${case//\//_}.out"
    else
        rm -f "$out"
    fi
done
