#!/usr/bin/env bash
# Image-to-video with the released Open-Sora-Plan v1.3.0 inpaint model at 93x352x640, one video split over 8 Ascend
# devices (sequence parallel, --sp_size 8). Give the frames and prompts, e.g. --conditional_pixel_values_path
# first.png --captions "..."; DEVICES (= the split), DEVICE_TARGET, MASTER_PORT, LOG_DIR: see scripts/launch.sh.
DEVICES=${DEVICES:-8} exec "$(dirname "$0")/../launch.sh" infer_diffusion.py --config configs/diffusion/opensora_v1_3_i2v_93x352x640.yaml --sp_size "${DEVICES:-8}" "$@"
