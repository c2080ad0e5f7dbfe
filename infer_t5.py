"""Cache T5 text embeddings for a video-caption annotation file (or embed a list of captions).

    python infer_t5.py --data_file_path datasets/webvid5/video_caption.csv --output_dir datasets/webvid5 \
        --t5_max_length 120 --caption_column caption --video_column video --t5_model_dir models/t5-v1_1-xxl

Writes one `output_dir/<video path>.npz` per row with `text_emb` (L, D) float32 and `mask` (L,) uint8 -- the files
train_diffusion.py reads. Rows whose file already exists whole are skipped, so an interrupted run resumes (a damaged
file is embedded again).
"""

import argparse
import os
import sys
import time
import zipfile

import numpy as np

from opensora.utils.config import HelpFormatter, add_bool_flag, add_common_flags, parse_args, save_config
from opensora.utils.errors import UserError, make_output_dir, run_main


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_common_flags(p)
    p.add_argument("--data_file_path", default="", help="annotation .csv (video,caption) or PKU .json")
    p.add_argument("--output_dir", default="", help="where the npz files go (default: next to the annotation file)")
    p.add_argument("--captions", nargs="*", default=[], help="embed these captions instead (one npz at --output_path)")
    p.add_argument("--output_path", default="outputs/t5_embed.npz",
                   help="output of --captions mode (also holds the --negative_prompt embedding: infer_diffusion.py "
                        "--text_embed_cache reads it; use --t5_max_length 300 and --clean_caption False there)")
    p.add_argument("--negative_prompt", default="", help="--captions mode: the CFG negative prompt to cache")
    p.add_argument("--t5_model_dir", default="models/t5-v1_1-xxl", help="Hugging Face T5 folder (tokenizer + weights)")
    p.add_argument("--t5_max_length", type=int, default=120, help="tokens: 120 (webvid) or 300 (PKU, pipeline)")
    p.add_argument("--caption_column", default="caption", help="annotation column of the caption")
    p.add_argument("--video_column", default="video", help="annotation column of the video path (names the npz)")
    p.add_argument("--batch_size", type=int, default=8, help="captions per T5 call")
    p.add_argument("--dtype", default="fp32", help="fp32 | fp16 (norms and softmax stay fp32)")
    add_bool_flag(p, "--clean_caption", True, "clean captions twice as the original's training data did "
                  "(needs ftfy + beautifulsoup4; falls back to lower-case + strip, and says so)")
    p.add_argument("--seed", type=int, default=4, help="random seed (T5 itself is deterministic)")
    return p


def write_npz(path, **arrays):
    """Atomic: a killed run never leaves a half-written file that a resume would skip."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".partial.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def embedding_is_whole(path, max_length):
    """An existing cache file counts as done only if it loads and holds (max_length, D) text_emb + (max_length,)
    mask: a truncated or foreign .npz is embedded again, not skipped."""
    if not os.path.isfile(path):
        return False
    try:
        with np.load(path) as data:
            emb, mask = data["text_emb"], data["mask"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return False
    return emb.ndim == 2 and emb.shape[0] == max_length and mask.shape == (max_length,)


def main(argv):
    # 1. config
    args = parse_args(build_parser(), argv)
    from opensora.dataset.annotations import embedding_path, read_annotations
    from opensora.utils.logger import setup_logger
    from opensora.utils.ms_utils import init_context, resolve_dtype

    if not args.captions and not args.data_file_path:
        raise UserError("pass --data_file_path (annotation file) or --captions")
    dtype = resolve_dtype(args.dtype, args.device_target)
    from opensora.models.text_encoder.embedder import require_t5_folder

    require_t5_folder(args.t5_model_dir)
    if args.captions:
        if any(not c.strip() for c in args.captions):
            raise UserError("--captions: empty caption")
        rows, out_dir = [], os.path.dirname(os.path.abspath(args.output_path))
    else:
        rows = read_annotations(args.data_file_path, args.video_column, args.caption_column)
        out_dir = args.output_dir or os.path.dirname(os.path.abspath(args.data_file_path))
    logger = setup_logger()
    make_output_dir(out_dir, "--output_dir" if not args.captions else "--output_path")
    todo = [(v, c) for v, c in rows if not embedding_is_whole(embedding_path(out_dir, v), args.t5_max_length)]
    redo = [v for v, _ in todo if os.path.isfile(embedding_path(out_dir, v))]
    if redo:
        logger.warning(f"{len(redo)} existing embedding files are damaged or of another --t5_max_length and are "
                       f"embedded again (first: {embedding_path(out_dir, redo[0])})")

    if not args.captions and not todo:
        logger.info(f"all {len(rows)} rows already embedded in {out_dir}; nothing to do")
        return 0

    # 2. context and model
    init_context(args.mode, args.device_target, args.seed, args.debug)
    from tqdm import tqdm

    from opensora.models.text_encoder import T5Embedder

    start = time.time()
    embedder = T5Embedder(args.t5_model_dir, args.t5_max_length, dtype, args.clean_caption, logger=logger)

    # 3. run
    if args.captions:
        ids, _ = embedder.tokenize(args.captions)
        emb, mask = embedder.encode(args.captions)
        neg_emb, neg_mask = embedder.encode([args.negative_prompt])
        write_npz(args.output_path, tokens=ids, mask=mask.astype(np.uint8), text_emb=emb.astype(np.float32),
                  captions=np.array(args.captions), negative_text_emb=neg_emb.astype(np.float32),
                  negative_mask=neg_mask.astype(np.uint8))
        logger.info(f"{len(args.captions)} captions -> {args.output_path} {emb.shape}")
        return 0
    save_config(args, out_dir, name="t5_config.yaml")
    logger.info(f"{len(rows)} rows, {len(rows) - len(todo)} already embedded, {len(todo)} to do -> {out_dir}")
    batches = [todo[i:i + args.batch_size] for i in range(0, len(todo), args.batch_size)]
    for batch in tqdm(batches, desc="t5", unit="batch"):
        emb, mask = embedder.encode([c for _, c in batch])
        for (video, _), e, m in zip(batch, emb, mask):
            write_npz(embedding_path(out_dir, video), text_emb=e.astype(np.float32), mask=m.astype(np.uint8))

    # 4. summary
    logger.info(f"done: {len(todo)} embedded, {len(rows) - len(todo)} skipped (existing), "
                f"{time.time() - start:.1f} s, text_emb ({args.t5_max_length}, {emb.shape[-1] if todo else '-'})")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
