"""Full-size OpenSoraT2V_v1_3-2B/122 (random weights) forward time and peak RSS, fp32 -- the v1.3 release's
architecture (configs/diffusion/model/opensora_v1_3_any93x640x640.json: 32 layers, Skiparse sparse_n 4).

    python benchmarks/bench_opensora_v1_3.py --frames 29 --height 352 --width 640 --tokens 512 --repeats 1
    python benchmarks/original/v1_3/bench_opensora_v1_3_original.py ...   # the original, same shapes

The input is the latent of a --frames x --height x --width video through the WF-VAE (8 channels, 4x8x8), with
--tokens mT5 tokens (4096 wide) and the original pipeline's all-ones masks. Opt-in: not part of the tests.
"""

import argparse
import json
import statistics
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/diffusion/model/opensora_v1_3_any93x640x640.json")
    p.add_argument("--frames", type=int, default=29)
    p.add_argument("--height", type=int, default=352)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--tokens", type=int, default=512)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--warmup", type=int, default=1)
    args = p.parse_args()

    import mindspore as ms
    import numpy as np

    from opensora.models.diffusion.opensora_v1_3 import OpenSoraT2V_v1_3
    from opensora.utils.ms_utils import init_context, peak_rss_gb

    init_context(mode=1)
    cfg = json.load(open(args.config))
    model = OpenSoraT2V_v1_3(cfg)
    model.set_train(False)
    rng = np.random.default_rng(0)
    shape = (1, cfg["in_channels"], (args.frames - 1) // 4 + 1, args.height // 8, args.width // 8)
    x = ms.Tensor(rng.standard_normal(shape).astype(np.float32))
    t = ms.Tensor(np.full((1,), 500.0, np.float32))
    text = ms.Tensor(rng.standard_normal((1, 1, args.tokens, cfg["caption_channels"])).astype(np.float32))
    mask = ms.Tensor(np.ones((1, 1, args.tokens), np.float32))
    times = []
    for _ in range(args.warmup + args.repeats):
        start = time.time()
        model(x, t, text, encoder_attention_mask=mask).asnumpy()
        times.append(time.time() - start)
    times = times[args.warmup:]
    print("command:", " ".join(["python"] + sys.argv))
    print(json.dumps({"model": "OpenSoraT2V_v1_3-2B/122", "latent": list(shape), "tokens": args.tokens,
                      "median_s": round(statistics.median(times), 2), "runs_s": [round(v, 2) for v in times],
                      "peak_rss_gb": round(peak_rss_gb(), 2), "mindspore": ms.__version__}))


if __name__ == "__main__":
    main()
