#!/usr/bin/env bash
# OpenSoraInpaint_v1_3-2B/122 (image-to-video) training at 93x640x640 on 8 Ascend devices with sequence parallel
# (--sp_size 8) and the AdamW moments sharded (--zero_stage 1); docs/distributed.md. Give the data
# (--data_file_path, --video_folder, --text_embed_folder); extra flags are passed on; DEVICES, DEVICE_TARGET,
# MASTER_PORT, LOG_DIR: see scripts/launch.sh.
DEVICES=${DEVICES:-8} exec "$(dirname "$0")/../launch.sh" train_diffusion.py --config configs/diffusion/training/opensora_v1_3_i2v_93x352x640.yaml --max_height 640 --max_width 640 --sp_size "${SP_SIZE:-8}" --zero_stage 1 --output_path outputs/opensora_v1_3_i2v_93x640x640_sp8 "$@"
