#!/usr/bin/env bash
# Image-to-video / transition / continuation with the released Open-Sora-Plan v1.3.0 inpaint model at 93x352x640
# on one Ascend device (the original's scripts/text_condition/gpu/sample_inpaint_v1_3.sh settings). Give the frames
# and prompts, e.g. --conditional_pixel_values_path first.png --captions "..."; DEVICES, DEVICE_TARGET,
# MASTER_PORT, LOG_DIR: see scripts/launch.sh.
DEVICES=1 exec "$(dirname "$0")/../launch.sh" infer_diffusion.py --config configs/diffusion/opensora_v1_3_i2v_93x352x640.yaml "$@"
