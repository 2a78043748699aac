#!/usr/bin/env bash
# The main job: installs what it needs (idempotent), then runs the end-to-end demo.
#   scripts/demo.sh [dstripes demo arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/dstripes demo "$@"
