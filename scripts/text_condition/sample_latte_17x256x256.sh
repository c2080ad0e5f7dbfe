#!/usr/bin/env bash
# Text-to-video with the released LatteT2V 17x256x256 checkpoint on one Ascend device (sampling runs on one device).
# Extra flags are passed on (e.g. --data_path / --resume True); DEVICES, DEVICE_TARGET, MASTER_PORT, LOG_DIR: see
# scripts/launch.sh.
DEVICES=1 exec "$(dirname "$0")/../launch.sh" infer_diffusion.py --config configs/diffusion/latte_17x256x256_122.yaml "$@"
