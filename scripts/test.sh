#!/usr/bin/env bash
# The test command: installs what the suite needs (idempotent), then runs it.
#   scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --nets
exec .venv/bin/python -m pytest "$@"
