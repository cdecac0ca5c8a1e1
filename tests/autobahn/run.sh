#!/usr/bin/env bash
#! Runs the Autobahn TestSuite (cases 1.* to 10.*, and 12.* / 13.* for permessage-deflate) against
#! the core, strictly, in both roles:
#!   1. `wstest -m fuzzingserver` (tests/autobahn/fuzzingserver.json, 127.0.0.1:9001) against
#!      the `autobahn_client` binary of tests/autobahn/peer;
#!   2. the `autobahn_server` binary (127.0.0.1:9002) against `wstest -m fuzzingclient`
#!      (tests/autobahn/fuzzingclient.json);
#! both roles at once, then tests/autobahn/check.py compares both reports with expected-client.json and
#! expected-server.json and prints `autobahn: N passed, M failed`.
#!
#! The compression cases 12.* and 13.* send 1,000 messages each, up to 128 KiB, and wait for
#! each echo: the suite's own Python 2 side (zlib at level 6, SHA-1, framing) spends about 6 s of
#! CPU on each of the 100 cases per role with messages over 16 KiB (12.*.7–10 and 13–18, the same
#! in 13.*, less the 20 below), our side about 1 s. All 216 per role take about 15 minutes on a
#! quiet 2-core machine (both roles at once), too long for CI's 30 minutes, so CI runs
#!   - every case up to 16 KiB (every data set, parameter set and the 256-byte fragmentation:
#!     96 per role), and 20 of the larger ones per role, each size and fragmentation once,
#!     rotating over the data sets (12.*) and the parameter sets 1, 2, 5 and 6 (13.*): the
#!     configs' `exclude-cases` list the other 100;
#!   - and a tenth of those 100, a different tenth on each commit (AUTOBAHN_SLICE, default the
#!     number of commits modulo 10), so that ten consecutive commits run every case.
#! expected-*.json hold what full runs gave for all 517 cases per role (every 12.* and 13.* OK).
#!
#! Usage: tests/autobahn/run.sh                    (from any directory; CI's subset)
#!        AUTOBAHN_FULL=1 tests/autobahn/run.sh     (every case of 12.* and 13.* as well)
#!        AUTOBAHN_CASES="13.3.* 13.4.18" tests/autobahn/run.sh   (only these cases, both roles)
#!        AUTOBAHN_SLICE=3 tests/autobahn/run.sh    (CI's subset with the fourth tenth of the rest)
#! Env:   AUTOBAHN_OUT     report directory (default tests/.peers/autobahn-reports, gitignored)
#!        AUTOBAHN_PYTHON  a Python 2.7 interpreter (default: pyenv's 2.7.18, else python2.7)
#! The suite (autobahntestsuite 25.10.1, Python 2.7) is installed into tests/.peers/autobahn on
#! first use. Every process started here is killed by PID on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SUITE_VERSION=25.10.1
SITE="$ROOT/tests/.peers/autobahn"
OUT="${AUTOBAHN_OUT:-$ROOT/tests/.peers/autobahn-reports}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
CLIENT_PORT=9001 # must match fuzzingserver.json
SERVER_PORT=9002 # must match fuzzingclient.json

if [[ -n "${AUTOBAHN_PYTHON:-}" ]]; then
    PY2=("$AUTOBAHN_PYTHON")
elif command -v pyenv >/dev/null && pyenv prefix 2.7.18 >/dev/null 2>&1; then
    PY2=("$(pyenv prefix 2.7.18)/bin/python")
else
    PY2=(python2.7)
fi
# wstest from $SITE (site.addsitedir also reads its .pth files: zope is a namespace package).
WSTEST=(env "AUTOBAHN_SITE=$SITE" "${PY2[@]}" -c
    "import os, site; site.addsitedir(os.environ['AUTOBAHN_SITE']); from autobahntestsuite.wstest import run; run()")

# Every process is started in the background and its PID kept, so that the trap can end it.
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# spawn LOG CMD...: runs CMD in $OUT with output to $OUT/LOG; its PID is in $LAST.
spawn() {
    local log="$1"
    shift
    (cd "$OUT" && exec "$@" >"$log" 2>&1) &
    LAST=$!
    PIDS+=("$LAST")
}

wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        echo "127.0.0.1:$1 is already in use" >&2
        return 1
    fi
}

start=$SECONDS
# Longest a role may take: CI's subset, or every case.
LIMIT=$([[ -n "${AUTOBAHN_FULL:-}${AUTOBAHN_CASES:-}" ]] && echo 5400 || echo 1800)

if [[ ! -d "$SITE/autobahntestsuite-$SUITE_VERSION.dist-info" ]]; then
    echo "installing autobahntestsuite $SUITE_VERSION into $SITE" >&2
    rm -rf "$SITE.tmp"
    "${PY2[@]}" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
        --target "$SITE.tmp" "autobahntestsuite==$SUITE_VERSION"
    rm -rf "$SITE"
    mv "$SITE.tmp" "$SITE"
fi

(cd "$ROOT" && cargo build --release --quiet -p responses-ws-autobahn)
PEERS="$TARGET/release"

rm -rf "$OUT"
mkdir -p "$OUT"

# The suite's configs, written to $OUT for check.py: as committed plus one tenth of what they
# exclude (CI), with nothing excluded (AUTOBAHN_FULL), or only the cases AUTOBAHN_CASES names.
SLICE=${AUTOBAHN_SLICE:-$(( $(git -C "$ROOT" rev-list --count HEAD 2>/dev/null || echo 0) % 10 ))}
SERVER_SPEC="$OUT/fuzzingserver.json"
CLIENT_SPEC="$OUT/fuzzingclient.json"
for spec in fuzzingserver fuzzingclient; do
    python3 - "$HERE/$spec.json" "$OUT/$spec.json" "${AUTOBAHN_FULL:-}" "${AUTOBAHN_CASES:-}" "$SLICE" <<'PY'
import json, sys
source, target, full, cases, slice_ = sys.argv[1:]
spec = json.load(open(source))
if full or cases:
    spec["exclude-cases"] = []
if cases:
    spec["cases"] = cases.split()
key = lambda case: tuple(int(part) for part in case.split("."))
left_out = sorted(spec["exclude-cases"], key=key)
this_time = set(left_out[int(slice_) % 10 :: 10])
spec["exclude-cases"] = [case for case in left_out if case not in this_time]
json.dump(spec, open(target, "w"), indent=3)
PY
done
echo "autobahn: slice $SLICE of the larger 12.*/13.* cases" >&2

# The two roles run at once (different ports, different report folders): the suite is mostly
# Python 2 CPU time, and the roles share nothing.
port_free "$CLIENT_PORT"
port_free "$SERVER_PORT"

# 1. Our client against the fuzzingserver.
spawn fuzzingserver.log "${WSTEST[@]}" -m fuzzingserver -s "$SERVER_SPEC" -u 0
fuzzingserver=$LAST
# 2. Our server against the fuzzingclient, which exits once its report is written.
spawn server.log "$PEERS/autobahn_server" "$SERVER_PORT"
server=$LAST

wait_port "$CLIENT_PORT"
spawn client.log timeout "$LIMIT" "$PEERS/autobahn_client" "ws://127.0.0.1:$CLIENT_PORT" responses-ws-client
client=$LAST
wait_port "$SERVER_PORT"
spawn fuzzingclient.log timeout "$LIMIT" "${WSTEST[@]}" -m fuzzingclient -s "$CLIENT_SPEC"
fuzzingclient=$LAST

wait "$client" || echo "autobahn_client exited with $? (see $OUT/client.log)" >&2
kill "$fuzzingserver"
wait "$fuzzingclient" || echo "fuzzingclient exited with $? (see $OUT/fuzzingclient.log)" >&2
kill "$server"

echo "suite ran in $((SECONDS - start)) s; reports and logs in $OUT" >&2
python3 "$HERE/check.py" "$OUT"
