#!/usr/bin/env bash
# Run one of the repo's entry scripts on one device (plain python) or on DEVICES devices (msrun data parallel,
# `--use_parallel True`). Every stage launcher in scripts/ calls this; extra arguments are passed to the script.
#
#   [DEVICES=8] [DEVICE_TARGET=Ascend] [MASTER_PORT=8118] [LOG_DIR=outputs/msrun_logs] [PYTHON=python] \
#       scripts/launch.sh train_diffusion.py --config configs/diffusion/training/latte_17x256x256_122.yaml [flags]
#
# msrun starts the first `python` on PATH, so the directory of $PYTHON (e.g. the venv's bin/) is put first.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-1}
DEVICE_TARGET=${DEVICE_TARGET:-Ascend}
PYTHON=${PYTHON:-python}
if [ $# -lt 1 ]; then
    echo "usage: [DEVICES=N] [DEVICE_TARGET=Ascend|CPU] scripts/launch.sh ENTRY.py [flags...]" >&2
    exit 2
fi
entry=$1
shift
if ! [[ "$DEVICES" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: DEVICES=$DEVICES: expected a positive number of devices" >&2
    exit 2
fi
if [ "$DEVICES" -eq 1 ]; then
    exec "$PYTHON" "$entry" --device_target "$DEVICE_TARGET" "$@"
fi
bin_dir=$(dirname "$(command -v "$PYTHON")")
export PATH="$bin_dir:$PATH"
msrun_bin=$(command -v msrun || true)
if [ -z "$msrun_bin" ]; then
    echo "error: msrun not found next to $PYTHON or on PATH; install MindSpore in that environment" >&2
    exit 2
fi
master_port=${MASTER_PORT:-8118}
# A port another program holds makes msrun's workers retry for ever: check it first, in one line.
"$PYTHON" - "$master_port" <<'PY' >/dev/null || exit 2
import socket
import sys

port = sys.argv[1]
with socket.socket() as s:
    try:
        s.bind(("0.0.0.0", int(port)))
    except (OSError, ValueError) as err:
        print(f"error: MASTER_PORT={port}: cannot use it for msrun ({getattr(err, 'strerror', None) or err}); "
              "set MASTER_PORT to a free port", file=sys.stderr)
        sys.exit(2)
PY
log_dir=${LOG_DIR:-outputs/msrun_logs}
mkdir -p "$log_dir"
# msrun stops every worker once one fails, but its last words blame the scheduler's timeouts: its console is kept
# so that the first failing rank and that rank's own error can be named in one line at the end.
status=0
"$msrun_bin" --worker_num="$DEVICES" --local_worker_num="$DEVICES" --master_port="$master_port" \
    --log_dir="$log_dir" --join=True \
    "$entry" --device_target "$DEVICE_TARGET" --use_parallel True "$@" 2>&1 | tee "$log_dir/msrun_console.log" \
    || status=$?
if [ "$status" -ne 0 ]; then
    "$PYTHON" -m opensora.utils.msrun_report "$log_dir" "$log_dir/msrun_console.log" || true
fi
exit "$status"
