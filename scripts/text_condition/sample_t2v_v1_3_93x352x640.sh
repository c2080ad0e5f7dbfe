#!/usr/bin/env bash
# Text-to-video with the released Open-Sora-Plan v1.3.0 model at 93x352x640 on one Ascend device (the original's
# scripts/text_condition/gpu/sample_t2v_v1_3.sh settings). Extra flags are passed on (e.g. --captions "..." or
# --height 640 --width 640); DEVICES, DEVICE_TARGET, MASTER_PORT, LOG_DIR: see scripts/launch.sh.
DEVICES=1 exec "$(dirname "$0")/../launch.sh" infer_diffusion.py --config configs/diffusion/opensora_v1_3_93x352x640.yaml "$@"
