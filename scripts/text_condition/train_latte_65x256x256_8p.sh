#!/usr/bin/env bash
# LatteT2V-XL/122 training at 65x256x256 (stages 17x256 -> 65x256 -> 65x512) on 8 Ascend devices (msrun data parallel).
# Extra flags are passed on (e.g. --data_path / --resume True); DEVICES, DEVICE_TARGET, MASTER_PORT, LOG_DIR: see
# scripts/launch.sh.
DEVICES=${DEVICES:-8} exec "$(dirname "$0")/../launch.sh" train_diffusion.py --config configs/diffusion/training/latte_65x256x256_122.yaml "$@"
