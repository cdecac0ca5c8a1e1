#!/usr/bin/env bash
# Installs the third-party interop peers used by tests/tests/interop.rs:
#   - Python `websockets` (pinned in requirements.txt) into the venv tests/.peers/venv
#   - Node `ws` (pinned in package.json / package-lock.json) into tests/interop/node_modules
#   - the official `openai` Python client (openai-requirements.txt) into tests/.peers/openai-venv
#   - llmsim (cargo install, pinned below) into tests/.peers/llmsim
# Both locations are gitignored. Safe to run again: each step is skipped when its pins are
# already installed. Needs python3 (with venv) and node/npm on PATH; fails loudly otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peers="$here/../.peers"
venv="$peers/venv"
mkdir -p "$peers"

for tool in python3 node npm; do
    command -v "$tool" >/dev/null || { echo "install.sh: '$tool' is not on PATH" >&2; exit 1; }
done

# Python: a venv with the pinned requirements; the stamp is a copy of requirements.txt.
if ! cmp -s "$here/requirements.txt" "$peers/requirements.stamp" || ! "$venv/bin/python" -c 'import websockets' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$peers/requirements.stamp"
fi

# The official OpenAI Python client: its own venv, since it pins an older `websockets`.
openai_venv="$peers/openai-venv"
if ! cmp -s "$here/openai-requirements.txt" "$peers/openai-requirements.stamp" || ! "$openai_venv/bin/python" -c 'import openai' 2>/dev/null; then
    python3 -m venv "$openai_venv"
    "$openai_venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/openai-requirements.txt"
    cp "$here/openai-requirements.txt" "$peers/openai-requirements.stamp"
fi

# llmsim, a Responses API simulator nobody here wrote (the server for tests/tests/llmsim.rs).
# A debug build: it serves a handful of loopback turns, and an optimised build of its whole
# dependency tree costs minutes on a cold CI machine.
llmsim_version=0.6.0
if ! "$peers/llmsim/bin/llmsim" --version 2>/dev/null | grep -q "$llmsim_version"; then
    cargo install --locked --quiet --debug --version "$llmsim_version" --root "$peers/llmsim" llmsim
fi

# Node: exactly the lockfile; the stamp is a copy of package-lock.json.
if ! cmp -s "$here/package-lock.json" "$peers/package-lock.stamp" || ! [ -f "$here/node_modules/ws/package.json" ]; then
    npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
    cp "$here/package-lock.json" "$peers/package-lock.stamp"
fi

echo "interop peers: python websockets $("$venv/bin/python" -c 'import websockets; print(websockets.__version__)'), node ws $(node -p "require('$here/node_modules/ws/package.json').version"), openai $("$openai_venv/bin/python" -c 'import openai; print(openai.__version__)'), $("$peers/llmsim/bin/llmsim" --version)"
