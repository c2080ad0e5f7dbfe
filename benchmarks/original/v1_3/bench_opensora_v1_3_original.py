"""The ORIGINAL Open-Sora-Plan v1.3.1 OpenSoraT2V_v1_3-2B/122 forward on benchmarks/bench_opensora_v1_3.py's shapes
(random weights, fp32, the pipeline's all-ones masks), time and peak RSS. Not part of the install: torch and a
checkout of the original at tag v1.3.1 (see make_wfvae_fixtures.py):

    PYTHONPATH=osp-v1.3.1 /work/scratch/torchvenv/bin/python benchmarks/original/v1_3/bench_opensora_v1_3_original.py \\
        --frames 29 --height 352 --width 640 --tokens 512 --repeats 1
"""

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_wfvae_fixtures import stub_torchvision  # noqa: E402  (sibling script)

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "configs", "diffusion", "model",
                      "opensora_v1_3_any93x640x640.json")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=29)
    p.add_argument("--height", type=int, default=352)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--tokens", type=int, default=512)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    stub_torchvision()
    import torch

    torch.backends.cuda.sdp_kernel = lambda **kw: contextlib.nullcontext()  # the CPU's math kernel (see fixtures)
    torch.set_num_threads(args.threads)
    from opensora.models.diffusion.opensora_v1_3.modeling_opensora import OpenSoraT2V_v1_3

    cfg = {k: v for k, v in json.load(open(CONFIG)).items() if not k.startswith("_")}
    model = OpenSoraT2V_v1_3(**cfg).eval()
    gen = torch.Generator().manual_seed(0)
    shape = (1, cfg["in_channels"], (args.frames - 1) // 4 + 1, args.height // 8, args.width // 8)
    x = torch.randn(shape, generator=gen)
    t = torch.full((1,), 500.0)
    text = torch.randn((1, 1, args.tokens, cfg["caption_channels"]), generator=gen)
    mask = torch.ones((1, 1, args.tokens))
    attention_mask = torch.ones((1,) + shape[2:])
    times = []
    with torch.no_grad():
        for _ in range(args.warmup + args.repeats):
            start = time.time()
            model(x, t, attention_mask=attention_mask, encoder_hidden_states=text, encoder_attention_mask=mask,
                  return_dict=False)
            times.append(time.time() - start)
    times = times[args.warmup:]
    print("command:", " ".join(["python"] + sys.argv))
    print(json.dumps({"model": "original OpenSoraT2V_v1_3-2B/122", "latent": list(shape), "tokens": args.tokens,
                      "median_s": round(statistics.median(times), 2), "runs_s": [round(v, 2) for v in times],
                      "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
                      "torch": torch.__version__, "threads": args.threads}))


if __name__ == "__main__":
    main()
