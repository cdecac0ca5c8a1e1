#!/usr/bin/env bash
# Installs redis-server from Debian for the Redis store's tests (responses-ws-store), which
# start their own server on a free loopback port and stop it by PID. Skipped at once when
# redis-server is already on PATH. Needs root (or sudo) and apt-get; fails loudly otherwise.
set -euo pipefail

if command -v redis-server >/dev/null; then
    exit 0
fi
command -v apt-get >/dev/null || { echo "redis/install.sh: no apt-get: install redis-server by hand" >&2; exit 1; }
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo)
else
    echo "redis/install.sh: not root and no sudo: install redis-server by hand" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends redis-server >/dev/null
redis-server --version
