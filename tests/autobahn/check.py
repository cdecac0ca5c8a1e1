#!/usr/bin/env python3
"""Checks Autobahn TestSuite reports against the committed expectations, strictly.

Usage: check.py REPORT_DIR [--full] [--update]

Reads REPORT_DIR/clients/index.json (our client, from the fuzzingserver) and
REPORT_DIR/servers/index.json (our server, from the fuzzingclient) and compares each case's
`behavior` and `behaviorClose` with expected-client.json and expected-server.json beside this
file. An expectation is a case id mapped to one result (both fields) or to
{"behavior": ..., "behaviorClose": ...}. A case fails when it differs from its expectation, is
missing from either side, or has any result other than OK, INFORMATIONAL or UNIMPLEMENTED (so
NON-STRICT, WRONG CODE and FAILED always fail). `--update` rewrites the expectations from the
reports (review the diff). Exits 1 on any failure; the last line reads
`autobahn: N passed, M failed`.

Without `--full`, expected cases that the committed suite configs exclude (`exclude-cases` of
fuzzingserver.json for the client, fuzzingclient.json for the server: CI's subset of 12.* and
13.*) are not looked for; `--update` keeps their expectations.
"""

import fnmatch
import json
import os
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = [
    ("client", "clients", "expected-client.json", "fuzzingserver.json"),
    ("server", "servers", "expected-server.json", "fuzzingclient.json"),
]
ACCEPTABLE = {"OK", "INFORMATIONAL", "UNIMPLEMENTED"}


def case_key(case):
    return tuple(int(part) for part in case.split("."))


def load_report(path):
    """The one agent's cases: case id -> (behavior, behaviorClose)."""
    with open(path) as f:
        agents = json.load(f)
    if len(agents) != 1:
        raise SystemExit(f"{path}: expected one agent, found {sorted(agents)}")
    (cases,) = agents.values()
    return {case: (r["behavior"], r["behaviorClose"]) for case, r in cases.items()}


def load_expected(path):
    with open(path) as f:
        raw = json.load(f)
    return {
        case: (v, v) if isinstance(v, str) else (v["behavior"], v["behaviorClose"]) for case, v in raw.items()
    }


def write_expected(path, results):
    lines = []
    for case in sorted(results, key=case_key):
        behavior, close = results[case]
        value = behavior if behavior == close else {"behavior": behavior, "behaviorClose": close}
        lines.append(f"  {json.dumps(case)}: {json.dumps(value)}")
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def excluded(spec_file):
    """The case patterns the committed suite config leaves out (Autobahn's `*` matches anything)."""
    with open(os.path.join(HERE, spec_file)) as f:
        return json.load(f).get("exclude-cases", [])


def main():
    args = sys.argv[1:]
    update = "--update" in args
    full = "--full" in args
    args = [a for a in args if a not in ("--update", "--full")]
    if len(args) != 1:
        raise SystemExit(__doc__)
    report_dir = args[0]
    passed = failed = 0
    for mode, subdir, expected_file, spec_file in MODES:
        skipped = [] if full else excluded(spec_file)
        is_skipped = lambda case: any(fnmatch.fnmatchcase(case, p) for p in skipped)
        index = os.path.join(report_dir, subdir, "index.json")
        expected_path = os.path.join(HERE, expected_file)
        if not os.path.exists(index):
            print(f"{mode}: no report at {index}")
            failed += 1
            continue
        actual = load_report(index)
        if update:
            kept = {c: v for c, v in load_expected(expected_path).items() if is_skipped(c)}
            write_expected(expected_path, {**kept, **actual})
        expected = {c: v for c, v in load_expected(expected_path).items() if not is_skipped(c)}
        counts = Counter(behavior for behavior, _ in actual.values())
        close_counts = Counter(close for _, close in actual.values())
        for case in sorted(set(actual) | set(expected), key=case_key):
            got, want = actual.get(case), expected.get(case)
            problem = None
            if got is None:
                problem = f"not in the report (expected {want})"
            elif want is None:
                problem = f"not in {expected_file} (got {got})"
            elif got != want:
                problem = f"got {got}, expected {want}"
            elif not set(got) <= ACCEPTABLE:
                problem = f"got {got}, which is not acceptable"
            if problem:
                failed += 1
                print(f"{mode} {case}: {problem} (behavior, behaviorClose)")
            else:
                passed += 1
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        close_summary = ", ".join(f"{k} {v}" for k, v in sorted(close_counts.items()))
        print(f"{mode}: {len(actual)} cases; behavior: {summary}; behaviorClose: {close_summary}")
    print(f"autobahn: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
