#!/usr/bin/env bash
# Text-to-video with the bundled demo model on this machine's CPU (what `make demo` runs). Extra flags are passed
# on, e.g. --captions "a red circle moves from left to right".
DEVICE_TARGET=CPU DEVICES=1 exec "$(dirname "$0")/../launch.sh" infer_diffusion.py --config examples/toy_world/configs/t2v_demo.yaml "$@"
