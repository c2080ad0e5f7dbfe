#!/usr/bin/env bash
# WF-VAE D8 training (Open-Sora-Plan v1.3's recipe) on one Ascend device.
# Extra flags are passed on (e.g. --data_path / --pretrained / --resume True); DEVICES, DEVICE_TARGET,
# MASTER_PORT, LOG_DIR: see scripts/launch.sh.
DEVICES=1 exec "$(dirname "$0")/../launch.sh" train.py --config configs/ae/training/wfvae_d8.yaml "$@"
