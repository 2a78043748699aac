#!/usr/bin/env bash
# The test command: installs what the suite needs (idempotent), then runs it on both cores.
#   scripts/test.sh [pytest arguments]      (default: -n 2 -q)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --nets
[ $# -gt 0 ] || set -- -n 2 -q
exec .venv/bin/python -m pytest "$@"
