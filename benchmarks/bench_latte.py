"""Full-size LatteT2V-XL/122 (random weights) forward time and peak RSS, fp32.

    python benchmarks/bench_latte.py --config configs/diffusion/model/latte_t2v_17x256x256.json --tokens 300 --repeats 3
    python benchmarks/bench_latte.py --jit ...   # compiled, as infer_diffusion.py --jit True

The input is the 17x256x256 latent (1, 4, 5, 32, 32) with `--tokens` T5 tokens. Opt-in: not part of the tests.
"""

import argparse
import json
import statistics
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/diffusion/model/latte_t2v_17x256x256.json")
    p.add_argument("--tokens", type=int, default=300)
    p.add_argument("--batch_size", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--mode", type=int, default=1, help="0 graph, 1 PyNative")
    p.add_argument("--jit", action="store_true", help="compile the forward as infer_diffusion.py --jit True does")
    args = p.parse_args()

    import mindspore as ms
    import numpy as np

    from opensora.models.diffusion.latte import LatteT2V
    from opensora.utils.ms_utils import init_context, peak_rss_gb

    init_context(mode=args.mode)  # as the scripts: CPU, blocking launches unless OPENSORA_SYNC=0
    cfg = json.load(open(args.config))
    model = LatteT2V(cfg)
    model.set_train(False)
    if args.jit:
        model.construct = ms.jit(model.construct)
    rng = np.random.default_rng(0)
    h, w = cfg["sample_size"] if isinstance(cfg["sample_size"], list) else (cfg["sample_size"],) * 2
    x = ms.Tensor(rng.standard_normal((args.batch_size, 4, cfg["video_length"], h, w)).astype(np.float32))
    t = ms.Tensor(np.full((args.batch_size,), 500, np.int32))
    text = ms.Tensor(rng.standard_normal((args.batch_size, args.tokens, cfg["caption_channels"])).astype(np.float32))
    mask = ms.Tensor(np.ones((args.batch_size, args.tokens), np.int32))
    times = []
    for _ in range(args.warmup + args.repeats):
        start = time.time()
        model(x, t, text, mask).asnumpy()
        times.append(time.time() - start)
    times = times[args.warmup:]
    print("command:", " ".join(["python"] + sys.argv))
    print(json.dumps({"model": "LatteT2V-XL/122", "latent": list(x.shape), "tokens": args.tokens,
                      "median_s": round(statistics.median(times), 2), "runs_s": [round(v, 2) for v in times],
                      "peak_rss_gb": round(peak_rss_gb(), 2), "mindspore": ms.__version__, "mode": args.mode,
                      "jit": args.jit}))


if __name__ == "__main__":
    main()
