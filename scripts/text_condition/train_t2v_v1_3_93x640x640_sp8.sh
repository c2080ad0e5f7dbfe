#!/usr/bin/env bash
# OpenSoraT2V_v1_3-2B/122 training at 93x640x640 on 8 Ascend devices: one sample's 24 latent frames split over the
# 8 (sequence parallel, --sp_size 8), the AdamW moments sharded (--zero_stage 1), per-block recompute (the
# recipe's); docs/distributed.md has the memory per device. Give the data (--data_file_path, --video_folder,
# --text_embed_folder); extra flags are passed on; DEVICES, DEVICE_TARGET, MASTER_PORT, LOG_DIR: see scripts/launch.sh.
DEVICES=${DEVICES:-8} exec "$(dirname "$0")/../launch.sh" train_diffusion.py --config configs/diffusion/training/opensora_v1_3_93x352x640.yaml --max_height 640 --max_width 640 --sp_size "${SP_SIZE:-8}" --zero_stage 1 --output_path outputs/opensora_v1_3_93x640x640_sp8 "$@"
