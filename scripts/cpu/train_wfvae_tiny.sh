#!/usr/bin/env bash
# WF-VAE (v1.3) training on the bundled clips on this machine's CPU, nothing downloaded; DEVICES=2 runs two msrun
# workers (mccl). Extra flags are passed on.
DEVICE_TARGET=CPU DEVICES=${DEVICES:-1} exec "$(dirname "$0")/../launch.sh" train.py \
    --config configs/ae/training/wfvae_tiny_cpu.yaml "$@"
