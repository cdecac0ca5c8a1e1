#!/usr/bin/env bash
# Runs every cargo-fuzz target of responses-ws for a short while (CI's smoke fuzzing).
#
# Installs cargo-fuzz (pinned) when it is missing, builds all targets once with the nightly
# toolchain, then runs them FUZZ_JOBS at a time, each for FUZZ_SECONDS (default 20) over a
# scratch corpus seeded from fuzz/seeds/<target>. A crash, leak or timeout stops the run with libFuzzer's exit code; the
# reproducer lands in fuzz/artifacts/<target>/.
#
# Usage: fuzz/run-ci.sh [TARGET...]      (default: every target in fuzz/Cargo.toml)
# Env:   FUZZ_SECONDS   seconds per target (default 20)
#        FUZZ_JOBS      targets fuzzed at once (default 2, one per core of a CI machine)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
seconds="${FUZZ_SECONDS:-20}"
cargo_fuzz_version=0.13.1

# A debug build of the tool itself: it only drives cargo, and the optimised build is minutes.
if ! cargo +nightly fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
    cargo install --locked --quiet --debug --version "$cargo_fuzz_version" cargo-fuzz
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# One build of every target (cargo-fuzz builds optimised, with ASan, by default).
cargo +nightly fuzz build
mkdir -p logs

# fuzz_one TARGET: runs TARGET for $seconds; the exit status is libFuzzer's.
fuzz_one() {
    local target="$1" corpus="corpus/$1"
    mkdir -p "$corpus"
    # The seeds are read as a second corpus directory; new inputs go to the scratch corpus only.
    cargo +nightly fuzz run "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"logs/$target.log" 2>&1
}

# FUZZ_JOBS targets at a time (default 2: libFuzzer runs one thread per target).
jobs="${FUZZ_JOBS:-2}"
failed=0
for ((first = 0; first < ${#targets[@]}; first += jobs)); do
    batch=("${targets[@]:first:jobs}")
    pids=()
    for target in "${batch[@]}"; do
        echo "fuzz: $target for ${seconds}s"
        fuzz_one "$target" &
        pids+=("$!")
    done
    for i in "${!batch[@]}"; do
        target="${batch[$i]}"
        status=0
        wait "${pids[$i]}" || status=$?
        tail -n 8 "logs/$target.log"
        if [[ $status -ne 0 ]]; then
            echo "fuzz: $target failed with status $status (log: fuzz/logs/$target.log," \
                "reproducer: fuzz/artifacts/$target/)" >&2
            failed=$status
        fi
    done
    if [[ $failed -ne 0 ]]; then
        exit "$failed"
    fi
done
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each, $jobs at a time, without a finding"
