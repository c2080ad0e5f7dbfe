"""Train LatteT2V on videos with cached T5 embeddings (Open-Sora-Plan v1.0.0 train_t2v.py).

    python train_diffusion.py --config configs/diffusion/training/latte_17x256x256_122.yaml \
        --data_file_path datasets/webvid5/video_caption.csv --video_folder datasets/webvid5 \
        --text_embed_folder datasets/webvid5

Frozen causal VAE -> latents x 0.18215 (sampled posterior); t ~ U[0, 1000); IDDPM loss (mse + vb); AdamW.
Checkpoints go to <output_path>/ckpt/step_XXXXXXXX/ (atomic, last --ckpt_max_keep kept); --resume continues
exactly (weights, optimizer, EMA, loss scale, step and data/noise RNG).
"""

import sys

from opensora.utils.config import parse_args
from opensora.utils.errors import run_main


def build_parser():
    from opensora.train.t2v_flags import build_t2v_train_parser

    return build_t2v_train_parser(__doc__)


def main(argv):
    args = parse_args(build_parser(), argv)
    from opensora.train.t2v_setup import run_t2v_training

    run_t2v_training(args)  # checks data, builds models, restores state, trains, writes the summary
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
