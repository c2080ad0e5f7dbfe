"""LatteT2V train-step time and peak RSS (random weights, fp32, synthetic latents and text), opt-in.

    python benchmarks/bench_train_latte.py --size tiny --steps 5
    python benchmarks/bench_train_latte.py --size examples/toy_world/configs/latte_demo.json \
        --batch_size 16 --tokens 16 --jit False
    python benchmarks/bench_train_latte.py --size xl --recompute --steps 2     # LatteT2V-XL/122, 17x256x256

The step is the one train_diffusion.py runs: IDDPM loss -> gradients -> AdamW (VAE encoding not included).
"""

import argparse
import json
import statistics
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="tiny", help="tiny, xl or a LatteT2V config.json")
    p.add_argument("--recompute", action="store_true")
    p.add_argument("--batch_size", type=int, default=1)
    p.add_argument("--tokens", type=int, default=300)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--jit", default="True", choices=["True", "False"], help="compiled step (train_diffusion --jit)")
    args = p.parse_args()

    import mindspore as ms
    import numpy as np

    from opensora.diffusion import create_diffusion
    from opensora.diffusion.training_loss import IDDPMLoss
    from opensora.models.diffusion.latte import LatteT2V
    from opensora.train.optim import AdamW
    from opensora.train.trainer import GraphGradStep, Trainer
    from opensora.utils.ms_utils import init_context, peak_rss_gb

    init_context()  # as the scripts: CPU, PyNative, blocking launches unless OPENSORA_SYNC=0
    path = {
        "tiny": "tests/fixtures/latte_tiny/config.json",
        "xl": "configs/diffusion/model/latte_t2v_17x256x256.json",
    }.get(args.size, args.size)
    cfg = json.load(open(path))
    latte = LatteT2V(cfg)
    if args.recompute:
        latte.enable_gradient_checkpointing()
    latte.set_train(True)
    diffusion = create_diffusion("")
    hw = cfg["sample_size"]
    rng = np.random.default_rng(0)
    x = ms.Tensor(rng.standard_normal((args.batch_size, 4, cfg["video_length"], hw[0], hw[1])).astype(np.float32))
    text = ms.Tensor(rng.standard_normal((args.batch_size, args.tokens, cfg["caption_channels"])).astype(np.float32))
    mask = ms.Tensor(np.ones((args.batch_size, args.tokens), np.int32))
    t = ms.Tensor(rng.integers(0, 1000, args.batch_size).astype(np.int32))
    noise = ms.Tensor(rng.standard_normal(x.shape).astype(np.float32))

    loss = IDDPMLoss(latte, diffusion)
    params = latte.trainable_params()
    grad_fn = GraphGradStep(loss, params) if args.jit == "True" else None
    trainer = Trainer(loss, params, AdamW(params, 1e-4), grad_fn=grad_fn)
    times = []
    for _ in range(args.steps + 1):
        start = time.time()
        trainer.step(1e-4, x, t, noise, text, mask)
        times.append(time.time() - start)
    print("command:", " ".join(["python"] + sys.argv))
    print(
        json.dumps(
            {
                "model": args.size,
                "recompute": args.recompute,
                "jit": args.jit,
                "latent": list(x.shape),
                "tokens": args.tokens,
                "median_step_s": round(statistics.median(times[1:]), 3),
                "first_step_s": round(times[0], 2),
                "peak_rss_gb": round(peak_rss_gb(), 2),
                "mindspore": ms.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
