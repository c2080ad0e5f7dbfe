#!/usr/bin/env bash
# LatteT2V training on this machine's CPU: give --config (e.g. a examples/toy_world/configs/ stage) or the data and model flags;
# DEVICES=2 runs two msrun workers (mccl). Extra flags are passed on.
DEVICE_TARGET=CPU DEVICES=${DEVICES:-1} exec "$(dirname "$0")/../launch.sh" train_diffusion.py "$@"
