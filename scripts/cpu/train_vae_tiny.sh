#!/usr/bin/env bash
# Causal VAE training on the bundled clips on this machine's CPU, nothing downloaded; DEVICES=2 runs two msrun
# workers (mccl). Extra flags are passed on.
DEVICE_TARGET=CPU DEVICES=${DEVICES:-1} exec "$(dirname "$0")/../launch.sh" train.py \
    --config configs/ae/training/causal_vae_tiny_cpu.yaml "$@"
