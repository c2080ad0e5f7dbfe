#!/usr/bin/env bash
# Causal VAE 4x8x8 training (the original's release recipe) on 8 Ascend devices (msrun data parallel).
# Extra flags are passed on (e.g. --data_path / --resume True); DEVICES, DEVICE_TARGET, MASTER_PORT, LOG_DIR: see
# scripts/launch.sh.
DEVICES=${DEVICES:-8} exec "$(dirname "$0")/../launch.sh" train.py --config configs/ae/training/causal_vae_video.yaml "$@"
