#!/usr/bin/env bash
# OpenSoraInpaint_v1_3-2B/122 (image-to-video) training at 93x352x640 on 8 Ascend devices (msrun data parallel).
# Give the data (--data_file_path, --video_folder, --text_embed_folder); extra flags are passed on (e.g.
# --resume True); DEVICES, DEVICE_TARGET, MASTER_PORT, LOG_DIR: see scripts/launch.sh.
DEVICES=${DEVICES:-8} exec "$(dirname "$0")/../launch.sh" train_diffusion.py --config configs/diffusion/training/opensora_v1_3_i2v_93x352x640.yaml "$@"
