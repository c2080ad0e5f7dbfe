#!/usr/bin/env bash
# Text-to-video with the released Open-Sora-Plan v1.3.0 model at 93x352x640, one video split over 8 Ascend devices
# (sequence parallel, --sp_size 8: each runs 3 of the 24 latent frames; the video is one device's). Extra flags are
# passed on (e.g. --captions "..."); DEVICES (= the split), DEVICE_TARGET, MASTER_PORT, LOG_DIR: see scripts/launch.sh.
DEVICES=${DEVICES:-8} exec "$(dirname "$0")/../launch.sh" infer_diffusion.py --config configs/diffusion/opensora_v1_3_93x352x640.yaml --sp_size "${DEVICES:-8}" "$@"
