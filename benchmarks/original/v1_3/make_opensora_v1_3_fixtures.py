"""Ground truth for the OpenSoraT2V v1.3 port (tests/fixtures/opensora_v1_3_tiny): the ORIGINAL Open-Sora-Plan
v1.3.1 `OpenSoraT2V_v1_3` (the Skiparse 3-D DiT) on tiny random-weight configs, in fp32 and again in fp64.

Not part of this project's install (torch, diffusers 0.30.2, tensorboard + wandb for the original's imports, and
a checkout of the original at tag v1.3.1; see make_wfvae_fixtures.py):

    PYTHONPATH=osp-v1.3.1 /work/scratch/torchvenv/bin/python \\
        benchmarks/original/v1_3/make_opensora_v1_3_fixtures.py --out tests/fixtures/opensora_v1_3_tiny

On a CPU the original's attention asks `torch.backends.cuda.sdp_kernel(enable_math=False, enable_flash=False,
enable_mem_efficient=True)`, which torch 2.13 applies on the CPU too, leaving no kernel: it is made a no-op, so the
CPU's math kernel runs (the same attention the CUDA kernel computes).

Weights: `weight_rule` of make_wfvae_fixtures.py (crc32-seeded per original name; tests/original_weights.py repeats
it), nothing shipped but the shapes. Six layers, so the dense layers 0-1 and sparse layers 2-5 of both groups run;
27 tokens a video (3 frames of 3x3 patches), so the sparse masks' padding to a multiple of sparse_n^2 runs too.
"""

import argparse
import contextlib
import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_wfvae_fixtures import stub_torchvision, tolerance, weight_rule  # noqa: E402  (sibling script)

CASES = {
    # the released model's choices (gelu-approximate, sparse1d with sparse_n 4, patch 1x2x2), tiny widths
    "sparse": dict(config=dict(num_attention_heads=2, attention_head_dim=12, in_channels=4, out_channels=8,
                               num_layers=6, cross_attention_dim=24, attention_bias=True, sample_size_h=6,
                               sample_size_w=6, sample_size_t=3, patch_size=2, patch_size_t=1,
                               activation_fn="gelu-approximate", norm_elementwise_affine=False, norm_eps=1e-6,
                               caption_channels=16, interpolation_scale_h=1.0, interpolation_scale_w=1.0,
                               interpolation_scale_t=1.0, sparse1d=True, sparse_n=4),
                   latents=(2, 4, 3, 6, 6), text=(2, 1, 7, 16)),
    # dense attention (sparse1d False), another frame count; two layers: from layer 2 on the original hands a dense
    # layer the sparse masks (a shape error), so a dense model deeper than 2 layers cannot run there
    "dense": dict(config=dict(num_attention_heads=2, attention_head_dim=12, in_channels=4, out_channels=8,
                              num_layers=2, cross_attention_dim=24, sample_size_h=8, sample_size_w=8, sample_size_t=2,
                              patch_size=2, patch_size_t=1, activation_fn="gelu-approximate", caption_channels=16,
                              sparse1d=False, sparse_n=4),
                  latents=(1, 4, 2, 8, 8), text=(1, 1, 5, 16)),
}


def build(config, dtype):
    import torch
    from opensora.models.diffusion.opensora_v1_3.modeling_opensora import OpenSoraT2V_v1_3

    model = OpenSoraT2V_v1_3(**config).eval()
    for name, value in model.state_dict().items():
        value.copy_(torch.from_numpy(weight_rule(name, tuple(value.shape))))
    return model.to(dtype)


def inputs(case):
    rng = np.random.RandomState(3)
    b, _, t, h, w = case["latents"]
    latents = rng.standard_normal(case["latents"]).astype(np.float32)
    text = rng.standard_normal(case["text"]).astype(np.float32)
    timestep = np.array([999, 250][:b], np.int64)
    attention_mask = np.ones((b, t, h, w), np.float32)
    encoder_mask = np.ones((b, 1, case["text"][2]), np.float32)
    encoder_mask[0, 0, -2:] = 0  # padded caption tokens
    if b > 1:
        attention_mask[1, -1] = 0  # the last latent frame of the second video is padding
    return dict(latents=latents, text=text, timestep=timestep, attention_mask=attention_mask,
                encoder_attention_mask=encoder_mask)


def run_case(case, dtype):
    import torch

    model = build(case["config"], dtype)
    arrays = inputs(case)
    captured = {}
    for i, block in enumerate(model.transformer_blocks):
        block.register_forward_hook(lambda _m, _i, out, i=i: captured.__setitem__(
            f"block{i}", out.detach().to(torch.float64).numpy()))
    with torch.no_grad():
        out = model(torch.from_numpy(arrays["latents"]).to(dtype), torch.from_numpy(arrays["timestep"]),
                    encoder_hidden_states=torch.from_numpy(arrays["text"]).to(dtype),
                    attention_mask=torch.from_numpy(arrays["attention_mask"]).to(dtype),
                    encoder_attention_mask=torch.from_numpy(arrays["encoder_attention_mask"]).to(dtype),
                    return_dict=False)[0]
    outputs = {"output": out.to(torch.float64).numpy(), **captured}
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    return arrays, outputs, shapes


def main():
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    stub_torchvision()
    torch.backends.cuda.sdp_kernel = lambda **kw: contextlib.nullcontext()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    tolerances = {}
    for name, case in CASES.items():
        arrays, out32, shapes = run_case(case, torch.float32)
        _, out64, _ = run_case(case, torch.float64)
        np.savez_compressed(os.path.join(args.out, f"{name}_io.npz"), **arrays,
                            **{k: v.astype(np.float32) for k, v in out32.items()})
        tolerances[name] = {k: tolerance(out32[k], out64[k]) for k in out32}
        with open(os.path.join(args.out, f"{name}_config.json"), "w") as f:
            json.dump({"_class_name": "OpenSoraT2V_v1_3", **case["config"]}, f, indent=2)
        with open(os.path.join(args.out, f"{name}_state_shapes.json"), "w") as f:
            json.dump(shapes, f, indent=1)
        print(name, {k: v.shape for k, v in out32.items()}, tolerances[name]["output"])
    with open(os.path.join(args.out, "tolerances.json"), "w") as f:
        json.dump(tolerances, f, indent=1)
    manifest = {}
    for file in sorted(os.listdir(args.out)):
        if file not in ("MANIFEST.sha256", "README.md"):
            manifest[file] = hashlib.sha256(open(os.path.join(args.out, file), "rb").read()).hexdigest()
    with open(os.path.join(args.out, "MANIFEST.sha256"), "w") as f:
        f.writelines(f"{digest}  {file}\n" for file, digest in manifest.items())


if __name__ == "__main__":
    main()
