#!/usr/bin/env python3
"""Checks Autobahn TestSuite reports against the committed expectations, strictly.

Usage: check.py REPORT_DIR [--update]

Reads REPORT_DIR/clients/index.json (our client, from the fuzzingserver) and
REPORT_DIR/servers/index.json (our server, from the fuzzingclient) and compares each case's
`behavior` and `behaviorClose` with expected-client.json and expected-server.json beside this
file. An expectation is a case id mapped to one result (both fields) or to
{"behavior": ..., "behaviorClose": ...}. A case fails when it differs from its expectation, is
missing from either side, or has any result other than OK, INFORMATIONAL or UNIMPLEMENTED (so
NON-STRICT, WRONG CODE and FAILED always fail). `--update` rewrites the expectations from the
reports (review the diff). Exits 1 on any failure; the last line reads
`autobahn: N passed, M failed`.

Only the cases the run asked for are looked for: those the suite configs of the run select
(`cases` minus `exclude-cases` of REPORT_DIR/fuzzingserver.json for the client and
REPORT_DIR/fuzzingclient.json for the server, as run.sh writes them; the committed configs
beside this file when the report directory has none). `--update` keeps the expectations of
the cases the run did not select.
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


def selection(report_dir, spec_file):
    """Whether the run's suite config selects a case (Autobahn's `*` matches anything)."""
    path = os.path.join(report_dir, spec_file)
    if not os.path.exists(path):
        path = os.path.join(HERE, spec_file)
    with open(path) as f:
        spec = json.load(f)
    matches = lambda case, patterns: any(fnmatch.fnmatchcase(case, p) for p in patterns)
    return lambda case: matches(case, spec["cases"]) and not matches(case, spec.get("exclude-cases", []))


def main():
    args = sys.argv[1:]
    update = "--update" in args
    args = [a for a in args if a != "--update"]
    if len(args) != 1:
        raise SystemExit(__doc__)
    report_dir = args[0]
    passed = failed = 0
    for mode, subdir, expected_file, spec_file in MODES:
        selected = selection(report_dir, spec_file)
        index = os.path.join(report_dir, subdir, "index.json")
        expected_path = os.path.join(HERE, expected_file)
        if not os.path.exists(index):
            print(f"{mode}: no report at {index}")
            failed += 1
            continue
        actual = load_report(index)
        if update:
            kept = {c: v for c, v in load_expected(expected_path).items() if not selected(c)}
            write_expected(expected_path, {**kept, **actual})
        expected = {c: v for c, v in load_expected(expected_path).items() if selected(c)}
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
