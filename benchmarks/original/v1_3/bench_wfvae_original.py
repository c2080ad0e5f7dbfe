"""The ORIGINAL Open-Sora-Plan v1.3.1 WFVAEModel timed on the shapes of `benchmarks/bench_vae.py --family wfvae`
(the D8 architecture of configs/ae/wfvae_d8_4x8x8.json, random weights, fp32, torch's default threads), one stage
per process so the peak RSS is that stage's (docs/performance.md).

Not part of this project's install (torch, and a checkout of the original at tag v1.3.1; see
make_wfvae_fixtures.py for the venv):

    PYTHONPATH=osp-v1.3.1 /work/scratch/torchvenv/bin/python benchmarks/original/v1_3/bench_wfvae_original.py \\
        encode --frames 17 --size 256 --repeats 2 --warmup 1       # also: decode
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_wfvae_fixtures import stub_torchvision  # noqa: E402  (a sibling script, not part of the package)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CONFIG = os.path.join(REPO, "configs/ae/wfvae_d8_4x8x8.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["encode", "decode"])
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=0)
    args = parser.parse_args()
    stub_torchvision()
    import numpy as np
    import torch
    from opensora.models.causalvideovae.model.vae.modeling_wfvae import WFVAEModel

    torch.manual_seed(0)
    config = {k: v for k, v in json.load(open(CONFIG)).items() if not k.startswith("_")}
    vae = WFVAEModel(**config).eval()
    rng = np.random.default_rng(0)
    if args.stage == "encode":
        x = torch.from_numpy(rng.uniform(-1, 1, (1, 3, args.frames, args.size, args.size)).astype(np.float32))

        def call():
            return vae.encode(x).parameters
    else:
        t_lat = (args.frames - 1) // 4 + 1
        z = torch.from_numpy(rng.standard_normal((1, config["latent_dim"], t_lat, args.size // 8,
                                                  args.size // 8)).astype(np.float32))

        def call():
            return vae.decode(z)
    times = []
    with torch.no_grad():
        for _ in range(args.warmup + args.repeats):
            start = time.time()
            call()
            times.append(time.time() - start)
    times = times[args.warmup:]
    print(json.dumps({"original": "v1.3.1 WFVAEModel D8", "stage": args.stage,
                      "shape": f"1x3x{args.frames}x{args.size}x{args.size}",
                      "median_s": round(statistics.median(times), 2), "runs_s": [round(t, 2) for t in times],
                      "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
