#!/usr/bin/env bash
# Image-to-video with the bundled v1.3-family demo model on this machine's CPU (what `make demo-i2v` runs): the
# bundled first frame, continued as the caption says. Extra flags are passed on, e.g.
# --conditional_pixel_values_path my_frame.png --captions "a red circle moves from top to bottom".
DEVICE_TARGET=CPU DEVICES=1 exec "$(dirname "$0")/../launch.sh" infer_diffusion.py --config examples/toy_world/configs/i2v_demo.yaml "$@"
