"""Text-to-video sampling with LatteT2V + the causal VAE + T5 (Open-Sora-Plan v1.0.0).

    python infer_diffusion.py --config configs/diffusion/latte_17x256x256_122.yaml
    python infer_diffusion.py --config configs/diffusion/latte_65x512x512_122.yaml --save_latents
    python infer_diffusion.py --config configs/diffusion/latte_65x512x512_122.yaml --decode_latents \
        --input_latents_dir samples/<time-stamp>/

Stages run one after another and free their model: T5 -> denoising (Latte) -> VAE decoding.
"""

import gc
import json
import os
import sys
import time

from opensora.utils.config import given_on_command_line, parse_args
from opensora.utils.errors import run_main


def build_parser():
    from opensora.pipelines.inference_flags import build_inference_parser

    return build_inference_parser(__doc__)


def stage(logger, name, start):
    from opensora.utils.ms_utils import peak_rss_gb

    logger.info(f"[stage] {name}: {time.time() - start:.1f} s, peak RSS {peak_rss_gb():.2f} GB")


def main(argv):
    # 1. config
    args = parse_args(build_parser(), argv)
    if args.decode_latents and not given_on_command_line(argv, "--output_path"):
        args.output_path = ""  # the videos go beside the latents (a --config's output_path is stage 1's)
    from opensora.pipelines.inference import InferenceSetup
    from opensora.utils.ms_utils import init_context

    rank, world = 0, 1
    if args.use_parallel:  # msrun's workers (sequence parallel): communication first, every rank the same flags
        from opensora.train.distributed import init_communication

        init_context(args.mode, args.device_target, args.seed, args.debug)
        rank, world = init_communication()
    setup = InferenceSetup(args, rank=rank, world_size=world)  # validates every path and flag before any model
    logger = setup.logger

    # 2. context (set once: before the communication when parallel)
    if not args.use_parallel:
        init_context(args.mode, args.device_target, args.seed, args.debug)

    # 3. stage 1+2: prompts -> latents (skipped when decoding saved latents)
    if args.decode_latents:
        from opensora.pipelines.io import PROMPTS_FILE, load_latents

        named = load_latents(args.input_latents_dir)
        prompts_file = os.path.join(args.input_latents_dir, PROMPTS_FILE)
        prompts = json.load(open(prompts_file)) if os.path.isfile(prompts_file) else {}
        names, latents = [n for n, _ in named], [a[0] for _, a in named]  # sizes may differ (image-to-video)
        captions = [prompts.get(n, n) for n in names]
    else:
        start = time.time()
        embeds = setup.encode_prompts()
        gc.collect()
        stage(logger, f"T5 text encoding ({len(setup.captions)} prompts)", start)
        start = time.time()
        names, captions, latents = setup.denoise(embeds)
        gc.collect()
        stage(logger, f"denoising ({args.sample_method}, {args.sampling_steps} steps)", start)
        if rank != 0:  # rank 0 holds the same latents and writes them
            return 0
        if args.save_latents:
            from opensora.pipelines.io import save_latents

            save_latents(setup.run_dir, names, captions, latents)
            logger.info(
                f"saved {len(names)} latents to {setup.run_dir}; decode with --decode_latents "
                f"--input_latents_dir {setup.run_dir}"
            )
            return 0

    # 4. stage 3: decode and write videos; if that fails, the denoised latents are kept (minutes to hours of work)
    start = time.time()
    try:
        paths = setup.decode_and_save(names, latents)
    except BaseException as err:
        if args.decode_latents:
            raise
        from opensora.pipelines.io import save_latents
        from opensora.utils.errors import UserError

        save_latents(setup.run_dir, names, captions, latents)
        kept = (f"the denoised latents are saved in {setup.run_dir}; once fixed, decode them with --decode_latents "
                f"--input_latents_dir {setup.run_dir}")
        if isinstance(err, UserError):
            raise UserError(f"{err} ({kept})") from err
        logger.error(kept)
        raise
    stage(logger, f"VAE decoding ({len(paths)} videos)", start)

    # 5. summary
    for path, caption in zip(paths, captions):
        logger.info(f"{path}  <- {caption!r}")
    logger.info(f"{len(paths)} videos in {setup.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
