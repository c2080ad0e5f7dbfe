"""Ground truth for the WF-VAE port (tests/fixtures/wfvae_tiny): the ORIGINAL Open-Sora-Plan v1.3.1 WFVAEModel run
on tiny random-weight configs, in fp32 and again in fp64 (the spread between the two sets the tests' tolerances).

Not part of this project's install: it needs torch and a checkout of the original at tag v1.3.1, e.g.

    python -m venv /work/scratch/torchvenv
    /work/scratch/torchvenv/bin/pip install torch==2.13.0 "numpy<2" diffusers==0.30.2 transformers==4.44.2 \\
        accelerate einops==0.7.0 safetensors
    git --git-dir <mirror of PKU-YuanGroup/Open-Sora-Plan> archive v1.3.1 | tar -x -C osp-v1.3.1
    PYTHONPATH=osp-v1.3.1 /work/scratch/torchvenv/bin/python benchmarks/original/v1_3/make_wfvae_fixtures.py \\
        --out tests/fixtures/wfvae_tiny

torchvision (imported by the original's package __init__ for one `Lambda`) is stubbed: nothing here uses it.

Weights follow `weight_rule` (also in tests/original_weights.py): every tensor of the state dict is drawn from a
RandomState seeded by the crc32 of its name, so a test rebuilds them without shipping 30 MB; the Haar filters
(frozen weights and buffers) keep the constructor's constants. Case "ln" is also written as the two files a user
has: a training checkpoint `merged.ckpt` (torch.save: EMA weights under `module.`, the full model under
state_dict.gen_model) and a diffusers `diffusion_pytorch_model.safetensors`.
"""

import argparse
import hashlib
import importlib.machinery
import json
import os
import sys
import types
import zlib

import numpy as np

CASES = {
    # the released v1.3 config's choices (layernorm, trilinear), narrow: LayerNorm has no group constraint
    "ln": dict(config=dict(latent_dim=4, base_channels=8, encoder_num_resblocks=2, encoder_energy_flow_hidden_size=8,
                           decoder_num_resblocks=2, decoder_energy_flow_hidden_size=8, use_attention=True,
                           norm_type="layernorm", t_interpolation="trilinear", connect_res_layer_num=1,
                           scale=[0.5, 0.6, 0.7, 0.8], shift=[0.1, -0.2, 0.3, 0.0]),
               video=(1, 3, 41, 16, 24), image=(2, 3, 1, 16, 16)),
    # the constructor's defaults (groupnorm, nearest): 32 groups need 32-channel multiples
    "gn": dict(config=dict(latent_dim=4, base_channels=32, encoder_num_resblocks=1, encoder_energy_flow_hidden_size=32,
                           decoder_num_resblocks=1, decoder_energy_flow_hidden_size=32, use_attention=True,
                           norm_type="groupnorm", t_interpolation="nearest", connect_res_layer_num=1),
               video=(1, 3, 25, 16, 16), image=None),
}
HOOKED = ("encoder.down1", "encoder.down2", "encoder.mid", "decoder.mid", "decoder.up2", "decoder.up1",
          "decoder.layer", "decoder")


def weight_rule(name, shape):
    """The tiny models' weights: norms near 1 / 0, biases small, kernels ~ 1/sqrt(fan_in)."""
    rng = np.random.RandomState(zlib.crc32(name.encode()))
    leaf = name.rsplit(".", 1)[-1]
    if len(shape) == 1:
        if ".norm" in name and leaf == "weight":
            return (1 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        return (0.1 * rng.standard_normal(shape)).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)


def stub_torchvision():
    class Lambda:
        def __init__(self, fn):
            self.fn = fn

        def __call__(self, x):
            return self.fn(x)

    for name in ("torchvision", "torchvision.transforms"):
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        module.Lambda = Lambda
        sys.modules.setdefault(name, module)


def is_haar(name):
    return "wavelet_tranform" in name


def build(config):
    import torch
    from opensora.models.causalvideovae.model.vae.modeling_wfvae import WFVAEModel

    model = WFVAEModel(**config).eval()
    state = model.state_dict()
    for name, value in state.items():
        if not is_haar(name):
            value.copy_(torch.from_numpy(weight_rule(name, tuple(value.shape))))
    return model


def run_case(name, case, dtype, noise=None):
    """Every recorded array of one case, computed in `dtype`; `noise`: the posterior sample's (the fp32 run's, so
    the fp64 rerun samples with the same draw)."""
    import torch

    torch.manual_seed(0)
    model = build(case["config"]).to(dtype)
    rng = np.random.RandomState(1)
    out = {"video": rng.uniform(-1, 1, case["video"]).astype(np.float32)}
    if case["image"]:
        out["image"] = rng.uniform(-1, 1, case["image"]).astype(np.float32)
    captured = {}

    def hook(key):
        def save(_module, _inputs, output):
            captured[key] = output.detach().to(torch.float64).numpy()
        return save

    handles = [model.get_submodule(k).register_forward_hook(hook(k)) for k in HOOKED]
    with torch.no_grad():
        x = torch.from_numpy(out["video"]).to(dtype)
        posterior = model.encode(x)
        out["moments"] = posterior.parameters.to(torch.float64).numpy()
        if noise is None:
            torch.manual_seed(2)
            out["noise"] = torch.randn(posterior.mean.shape, dtype=dtype).numpy()
            torch.manual_seed(2)
            z = posterior.sample()  # the original's draw: mean + std * randn
        else:
            out["noise"] = noise
            z = posterior.mean + posterior.std * torch.from_numpy(noise).to(dtype)
        out["sample"] = z.to(torch.float64).numpy()
        out["decoded"] = model.decode(posterior.mode()).to(torch.float64).numpy()
        for key in HOOKED:
            out[f"hook.{key}"] = captured[key]
        for handle in handles:
            handle.remove()
        model.enable_tiling()
        out["moments_tiled"] = model.encode(x).parameters.to(torch.float64).numpy()
        out["decoded_tiled"] = model.decode(posterior.mode()).to(torch.float64).numpy()
        model.disable_tiling()
        if case["image"]:
            img = torch.from_numpy(out["image"]).to(dtype)
            post_img = model.encode(img)
            out["image_moments"] = post_img.parameters.to(torch.float64).numpy()
            out["image_decoded"] = model.decode(post_img.mode()).to(torch.float64).numpy()
    return model, out


def write_release_files(model, folder, config):
    """The two forms a user downloads: merged.ckpt (training checkpoint) and diffusers safetensors."""
    import torch
    from safetensors.torch import save_file

    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    trainable = {f"module.{n}": p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    torch.save({"epoch": 0, "current_step": 1, "optimizer_state": {}, "scaler_state": {}, "sampler_state": {},
                "state_dict": {"gen_model": state, "dics_model": {}}, "ema_state_dict": trainable},
               os.path.join(folder, "merged.ckpt"))
    save_file(state, os.path.join(folder, "diffusion_pytorch_model.safetensors"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"_class_name": "WFVAEModel", "_diffusers_version": "0.30.2", **config}, f, indent=2)


def write_manifest(folder):
    """MANIFEST.sha256: the sha256 of every file of a fixture folder but the README and the manifest itself."""
    import hashlib

    names = [f for f in sorted(os.listdir(folder)) if f not in ("MANIFEST.sha256", "README.md")]
    with open(os.path.join(folder, "MANIFEST.sha256"), "w") as f:
        f.writelines(f"{hashlib.sha256(open(os.path.join(folder, n), 'rb').read()).hexdigest()}  {n}\n"
                     for n in names)


def tolerance(fp32, fp64):
    """8x the original's own fp32-vs-fp64 spread, at least 1e-6 (rounded up to one significant digit)."""
    spread = float(np.max(np.abs(fp32.astype(np.float64) - fp64))) if fp32.size else 0.0
    tol = max(8 * spread, 1e-6)
    exponent = np.floor(np.log10(tol))
    return float("%.1g" % (np.ceil(tol / 10 ** exponent) * 10 ** exponent))


def main():
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    stub_torchvision()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    manifest, tolerances = {}, {}
    for name, case in CASES.items():
        model, out32 = run_case(name, case, torch.float32)
        _, out64 = run_case(name, case, torch.float64, noise=out32["noise"])
        arrays = {k: v.astype(np.float32) for k, v in out32.items()}
        path = os.path.join(args.out, f"{name}_outputs.npz")
        np.savez_compressed(path, **arrays)
        tolerances[name] = {k: tolerance(out32[k], out64[k]) for k in out32 if k not in ("video", "image", "noise")}
        with open(os.path.join(args.out, f"{name}_config.json"), "w") as f:
            json.dump({"_class_name": "WFVAEModel", **case["config"]}, f, indent=2)
        shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
        with open(os.path.join(args.out, f"{name}_state_shapes.json"), "w") as f:
            json.dump(shapes, f, indent=1)
        if name == "ln":
            release = os.path.join(args.out, "ln_release")
            os.makedirs(release, exist_ok=True)
            write_release_files(model, release, case["config"])
        print(name, {k: v.shape for k, v in arrays.items()})
    with open(os.path.join(args.out, "tolerances.json"), "w") as f:
        json.dump(tolerances, f, indent=1)
    for root, _, files in os.walk(args.out):
        for file in sorted(files):
            if file in ("MANIFEST.sha256", "README.md"):
                continue
            path = os.path.join(root, file)
            manifest[os.path.relpath(path, args.out)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    with open(os.path.join(args.out, "MANIFEST.sha256"), "w") as f:
        f.writelines(f"{digest}  {rel}\n" for rel, digest in sorted(manifest.items()))


if __name__ == "__main__":
    main()
