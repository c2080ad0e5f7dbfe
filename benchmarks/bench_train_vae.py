"""Causal VAE train-step time and peak RSS (fp32, random clip), compiled graph vs PyNative, opt-in.

    python benchmarks/bench_train_vae.py --model tiny --frames 5 --size 32 --steps 5 --jit True
    python benchmarks/bench_train_vae.py --model tiny --frames 5 --size 32 --steps 5 --jit False
    python benchmarks/bench_train_vae.py --model 488 --frames 17 --size 256 --steps 1     # the seed's anchor shape

The step is train.py's generator step (encode, sample, decode, L1 [+ LPIPS with --lpips CKPT] + KL, Adam
update); the discriminator is off, as in configs/ae/training/causal_vae_video.yaml. Prints JSON with the
first (compile) step and the median of the following steps.
"""

import argparse
import json
import statistics
import time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny", help="tiny, 488 or a config file")
    p.add_argument("--frames", type=int, default=5)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--steps", type=int, default=5, help="timed steps after the first")
    p.add_argument("--jit", default="True", choices=["True", "False"])
    p.add_argument("--lpips", default="", help="LPIPS checkpoint (default: perceptual_weight 0)")
    args = p.parse_args()

    import mindspore as ms
    import numpy as np

    from opensora.models.ae import CausalVAEModel
    from opensora.models.ae.losses import LPIPSWithDiscriminator
    from opensora.train.optim import AdamW
    from opensora.train.trainer import Trainer
    from opensora.train.vae_task import VAETrainingTask
    from opensora.utils.ms_utils import init_context, peak_rss_gb

    init_context()  # as the scripts: CPU, PyNative, blocking launches unless OPENSORA_SYNC=0
    ms.set_seed(0)  # the same random init in every run, so graph and PyNative runs are comparable
    config = {"tiny": "tests/fixtures/causalvae_tiny/config.json", "488": "configs/ae/causal_vae_488.yaml"}.get(
        args.model, args.model
    )
    vae = CausalVAEModel.from_config_file(config)
    vae.set_train(True)
    loss = LPIPSWithDiscriminator(
        disc_start=50001, kl_weight=1e-6, perceptual_weight=1.0 if args.lpips else 0.0, use_discriminator=False
    )
    if args.lpips:
        loss.perceptual_loss.load_weights(args.lpips)
    task = VAETrainingTask(vae, loss, graph=args.jit == "True")
    params = vae.trainable_params()
    trainer = Trainer(
        task.generator,
        params,
        AdamW(params, 1e-5, (0.5, 0.9), weight_decay=0.0),
        grad_fn=task.grad_fn(task.generator, params),
    )
    rng = np.random.default_rng(0)
    video = ms.Tensor(rng.uniform(-1, 1, (1, 3, args.frames, args.size, args.size)).astype(np.float32))
    noise = ms.Tensor(rng.standard_normal((1, *vae.latent_shape(video.shape[1:]))).astype(np.float32))
    zero = ms.Tensor(0.0, ms.float32)
    times, losses = [], []
    for _ in range(args.steps + 1):
        start = time.time()
        info = trainer.step(1e-5, video, noise, zero)
        losses.append(round(info["loss"], 4))
        times.append(time.time() - start)
    print(
        json.dumps(
            {
                "model": args.model,
                "shape": [1, 3, args.frames, args.size, args.size],
                "jit": args.jit,
                "lpips": bool(args.lpips),
                "first_step_s": round(times[0], 2),
                "median_step_s": round(statistics.median(times[1:]), 3) if args.steps else None,
                "losses": losses,
                "peak_rss_gb": round(peak_rss_gb(), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
