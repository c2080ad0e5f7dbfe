"""The PyTorch original (Open-Sora-Plan v1.0.0) timed on the same shapes as benchmarks/bench_vae.py, bench_latte.py
and profile_vae.py, so both sides can be measured the same day on the same machine (docs/performance.md).

Not part of this project's install: it needs torch and a checkout of the original at tag v1.0.0, e.g.

    python -m venv /work/torchvenv && . /work/torchvenv/bin/activate
    pip install torch==2.13.0 "numpy<2" einops==0.7.0 diffusers==0.27.2 transformers==4.39.1 \\
        pytorch-lightning==2.2.1 "huggingface_hub<0.26" "setuptools<70" omegaconf
    PYTHONPATH=<checkout of PKU-YuanGroup/Open-Sora-Plan at v1.0.0> python benchmarks/original/bench_original.py \\
        vae_encode --repeats 2          # also: vae_decode, latte, profile_encode, profile_decode, kernels

Random weights (seed 0), fp32, torch's default threads (one per core). Three stand-ins make the original import
and run on a CPU without downloads, as when the fixtures were made (tests/fixtures/README.md): torchvision
(imported by the VAE's LPIPS loss and dataset modules, not installable beside torch 2.13 here), the VAE's
training loss (it loads a downloaded VGG16), and `torch.backends.cuda.sdp_kernel`, a CUDA kernel choice that
torch 2.13 also applies on the CPU, where it leaves attention no kernel at all.
"""

import argparse
import collections
import contextlib
import importlib.machinery
import json
import os
import resource
import statistics
import sys
import time
import types

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VAE_CONFIG = os.path.join(REPO, "tests/fixtures/keys/causalvae_488_full.json")  # the released vae/config.json
LATTE_CONFIG = os.path.join(REPO, "configs/diffusion/model/latte_t2v_17x256x256.json")


def stub_torchvision():
    def any_name(name):
        if name.startswith("__"):
            raise AttributeError(name)
        return object

    for name in ("torchvision", "torchvision.models", "torchvision.transforms"):
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        module.__getattr__ = any_name
        sys.modules.setdefault(name, module)


def build_vae():
    from opensora.models.ae.videobase import CausalVAEModel

    cfg = json.load(open(VAE_CONFIG))["config"]
    cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
    cfg.update(loss_type="torch.nn.Identity", loss_params={})  # no VGG16 download; inference never uses it
    return CausalVAEModel(**cfg).eval()


def vae_call(model, stage, frames, size):
    import torch

    if stage == "encode":
        x = torch.rand(1, 3, frames, size, size) * 2 - 1
        return lambda: model.encode(x).mode()
    z = torch.randn(1, 4, (frames - 1) // 4 + 1, size // 8, size // 8)
    return lambda: model.decode(z)


def latte_call():
    import torch
    from opensora.models.diffusion.latte.modeling_latte import LatteT2V

    cfg = json.load(open(LATTE_CONFIG))
    model = LatteT2V.from_config(cfg).eval()
    x = torch.randn(1, 4, cfg["video_length"], *cfg["sample_size"])
    t = torch.full((1,), 500, dtype=torch.long)
    text = torch.randn(1, 300, cfg["caption_channels"])
    mask = torch.ones(1, 300, dtype=torch.long)
    return lambda: model(x, timestep=t, encoder_hidden_states=text, encoder_attention_mask=mask, return_dict=False)


def profile(run, stage):
    """Wall time per kind of layer, as benchmarks/profile_vae.py does for this project's VAE."""
    import torch
    from opensora.models.ae.videobase.modules import attention, conv

    seconds, calls, flops = collections.Counter(), collections.Counter(), collections.Counter()
    state = {"inside": False}

    def timed(kind, forward):
        def wrapper(self, x, *rest, **kw):
            if state["inside"]:
                return forward(self, x, *rest, **kw)
            state["inside"] = True
            start = time.perf_counter()
            y = forward(self, x, *rest, **kw)
            seconds[kind] += time.perf_counter() - start
            state["inside"] = False
            calls[kind] += 1
            if kind == "conv":
                k = self.conv.kernel_size
                flops[kind] += 2 * y.numel() * self.conv.in_channels * k[0] * k[1] * k[2]
            return y
        return wrapper

    for kind, cls in (("conv", conv.CausalConv3d), ("groupnorm", torch.nn.GroupNorm),
                      ("attention", attention.AttnBlock3D)):
        cls.forward = timed(kind, cls.forward)
    start = time.perf_counter()
    run()
    total = time.perf_counter() - start
    report = {"stage": stage, "total_s_profiled": round(total, 2), "kinds": {}}
    for kind in ("conv", "groupnorm", "attention"):
        report["kinds"][kind] = {"s": round(seconds[kind], 2), "calls": calls[kind],
                                 "share": round(seconds[kind] / total, 3)}
    report["kinds"]["conv"]["gflop_per_s"] = round(flops["conv"] / max(seconds["conv"], 1e-9) / 1e9, 1)
    report["kinds"]["other"] = {"s": round(total - sum(seconds.values()), 2)}
    return report


def kernels(size):
    """The shapes of benchmarks/bench_kernels.py, with PyTorch's CPU kernels (best of 3, warm)."""
    import torch
    import torch.nn.functional as F

    t, c, h = 17, 128, size
    folded, w2 = torch.randn(t, 3 * c, h, h), torch.randn(c, 3 * c, 3, 3)
    padded, w3 = torch.randn(1, c, t + 2, h, h), torch.randn(c, c, 3, 3, 3)
    a, w = torch.randn(5120, 1152), torch.randn(1152, 1152)
    conv_gflop = 2 * t * c * 3 * c * 9 * h * h / 1e9
    rows = {
        "conv folded into Conv2d": (conv_gflop, lambda: F.conv2d(folded, w2, padding=1)),
        "conv as Conv3d": (conv_gflop, lambda: F.conv3d(padded, w3, padding=(0, 1, 1))),
        "matmul": (2 * 5120 * 1152 * 1152 / 1e9, lambda: F.linear(a, w)),
    }
    result = {"torch": torch.__version__, "conv_input": f"1x{c}x{t}x{h}x{h}"}
    for name, (gflop, fn) in rows.items():
        fn()
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
        result[name] = {"s": round(min(seconds), 3), "gflop_per_s": round(gflop / min(seconds), 1)}
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["vae_encode", "vae_decode", "latte", "profile_encode", "profile_decode", "kernels"])
    p.add_argument("--frames", type=int, default=17)
    p.add_argument("--size", type=int, default=None, help="frame height and width (default 256; kernels: 128)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--warmup", type=int, default=0)
    args = p.parse_args()
    args.size = args.size or (128 if args.what == "kernels" else 256)
    stub_torchvision()
    import torch

    torch.backends.cuda.sdp_kernel = lambda **kw: contextlib.nullcontext()
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    if args.what == "kernels":
        print(json.dumps(kernels(args.size), indent=1))
        return
    if args.what == "latte":
        run = latte_call()
    else:
        run = vae_call(build_vae(), args.what.split("_")[1], args.frames, args.size)
    if args.what.startswith("profile"):
        run()  # warm-up
        report = profile(run, args.what.split("_")[1])
        report["shape"] = f"{args.frames}x{args.size}x{args.size}"
        print(json.dumps(report, indent=1))
        return
    times = []
    for _ in range(args.warmup + args.repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    times = times[args.warmup:]
    print(json.dumps({"what": args.what, "shape": f"{args.frames}x{args.size}x{args.size}", "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "median_s": round(statistics.median(times), 2),
                      "runs_s": [round(v, 2) for v in times],
                      "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, 2)}))


if __name__ == "__main__":
    main()
