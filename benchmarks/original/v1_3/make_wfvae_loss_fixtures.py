"""Ground truth for the WF-VAE training loss port (tests/fixtures/wfvae_loss): the ORIGINAL Open-Sora-Plan v1.3.1
`LPIPSWithDiscriminator3D` (causalvideovae/model/losses/perceptual_loss.py) with a tiny `NLayerDiscriminator3D`,
called in fp32 and again in fp64 (the spread between the two sets the tests' tolerances).

Not part of this project's install: it needs torch and a checkout of the original at tag v1.3.1 (see
make_wfvae_fixtures.py for the venv), then

    PYTHONPATH=osp-v1.3.1 /work/scratch/torchvenv/bin/python benchmarks/original/v1_3/make_wfvae_loss_fixtures.py \\
        --out tests/fixtures/wfvae_loss

torchvision is stubbed: `Lambda` (imported by the original's package __init__) and `models.vgg16`, whose features
are the VGG16 trunk that tests/fixtures/losses/weights/counter_weights.py regenerates bit-exactly; the original's
LPIPS download (`get_ckpt_path`) is pointed at a file holding the real v0.1 heads of
tests/fixtures/losses/weights/lpips_vgg_lin.safetensors, loaded by the original's own `load_state_dict`.

The loss's discriminator (ndf 64, 4 layers) is replaced by NLayerDiscriminator3D(3, ndf=4, n_layers=4)
.apply(weights_init) drawn under torch.manual_seed(0); its state dict is written in the original's names and
reloaded before every call (so each call starts from the same running statistics). The decoder's last layer is a
stand-in Conv2d applied per frame (the original's `video_to_image` Conv2d, as WF-VAE's decoder.conv_out), and the
reconstruction is `inputs + conv_out(last_input)`; `last_layer=conv_out.weight` as the original trainer passes
`get_last_layer()`.
"""

import argparse
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import tempfile
import types

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
WEIGHTS = os.path.join(REPO, "tests", "fixtures", "losses", "weights")
SHAPES = dict(inputs=(2, 3, 5, 32, 32), last_input=(2, 4, 5, 32, 32), moments=(2, 8, 2, 8, 8),
              wavelet_l1=(2, 12, 3, 16, 16), wavelet_l2=(2, 12, 2, 8, 8))
DISC = dict(input_nc=3, ndf=4, n_layers=4)
CONFIGS = {
    # the original trainer's defaults (train_causalvae.py argparse) but disc_start 3
    "l1_hinge": dict(disc_start=3, disc_weight=0.5, kl_weight=1e-6, logvar_init=0.0, perceptual_weight=1.0,
                     loss_type="l1", wavelet_weight=0.1),
    "l2_vanilla": dict(disc_start=3, disc_weight=0.5, kl_weight=1e-3, logvar_init=0.4, perceptual_weight=0.5,
                       loss_type="l2", wavelet_weight=0.2, disc_loss="vanilla"),
    "l1_no_disc_factor": dict(disc_start=3, disc_weight=0.5, kl_weight=1e-6, logvar_init=0.0, perceptual_weight=1.0,
                              loss_type="l1", wavelet_weight=0.1, disc_factor=0.0),
}
# name -> (config, discriminator mode, optimizer_idx, global_step, pass wavelet coefficients)
CASES = {
    "l1_train_opt0_step2": ("l1_hinge", "train", 0, 2, False),
    "l1_train_opt0_step2_wl": ("l1_hinge", "train", 0, 2, True),
    "l1_train_opt0_step3": ("l1_hinge", "train", 0, 3, False),
    "l1_train_opt0_step3_wl": ("l1_hinge", "train", 0, 3, True),
    "l1_train_opt1_step2": ("l1_hinge", "train", 1, 2, False),
    "l1_train_opt1_step3": ("l1_hinge", "train", 1, 3, False),
    "l1_eval_opt0_step3_wl": ("l1_hinge", "eval", 0, 3, True),
    "l1_eval_opt1_step3": ("l1_hinge", "eval", 1, 3, False),
    "l2_train_opt0_step2_wl": ("l2_vanilla", "train", 0, 2, True),
    "l2_train_opt0_step3": ("l2_vanilla", "train", 0, 3, False),
    "l2_train_opt0_step3_wl": ("l2_vanilla", "train", 0, 3, True),
    "l2_train_opt1_step2": ("l2_vanilla", "train", 1, 2, False),
    "l2_train_opt1_step3": ("l2_vanilla", "train", 1, 3, False),
    "nofactor_train_opt0_step3_wl": ("l1_no_disc_factor", "train", 0, 3, True),
    "nofactor_train_opt1_step3": ("l1_no_disc_factor", "train", 1, 3, False),
}


def load_counter_weights():
    spec = importlib.util.spec_from_file_location("counter_weights", os.path.join(WEIGHTS, "counter_weights.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stub_torchvision():
    """torchvision.transforms.Lambda and torchvision.models.vgg16 (the counter-weights trunk, no download)."""
    import torch
    from torch import nn

    cw = load_counter_weights()

    class Lambda:
        def __init__(self, fn):
            self.fn = fn

        def __call__(self, x):
            return self.fn(x)

    def vgg16(pretrained=False, **_):
        layers, cin = [], 3
        for v in cw.VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        net = types.SimpleNamespace(features=nn.Sequential(*layers))
        state = {k: torch.from_numpy(v) for k, v in cw.vgg16_features_arrays().items()}
        net.features.load_state_dict({k[len("features."):]: v for k, v in state.items()}, strict=True)
        return net

    modules = {}
    for name in ("torchvision", "torchvision.transforms", "torchvision.models"):
        modules[name] = types.ModuleType(name)
        modules[name].__spec__ = importlib.machinery.ModuleSpec(name, None)
        sys.modules[name] = modules[name]
    modules["torchvision.transforms"].Lambda = Lambda
    modules["torchvision.models"].vgg16 = vgg16
    modules["torchvision"].transforms = modules["torchvision.transforms"]
    modules["torchvision"].models = modules["torchvision.models"]


def point_lpips_at_heads(folder):
    """The original LPIPS loads `get_ckpt_path('vgg_lpips', ...)` with strict=False: give it the real heads."""
    import opensora.models.causalvideovae.model.losses.lpips as lpips_module
    import torch
    from safetensors.torch import load_file

    path = os.path.join(folder, "vgg.pth")
    torch.save(load_file(os.path.join(WEIGHTS, "lpips_vgg_lin.safetensors")), path)
    lpips_module.get_ckpt_path = lambda name, root, check=False: path


def make_inputs():
    rng = np.random.RandomState(0)
    inputs = rng.uniform(-1, 1, SHAPES["inputs"]).astype(np.float32)
    last_input = rng.standard_normal(SHAPES["last_input"]).astype(np.float32)
    conv_w = (0.05 * rng.standard_normal((3, SHAPES["last_input"][1], 3, 3))).astype(np.float32)
    conv_b = (0.02 * rng.standard_normal(3)).astype(np.float32)
    mean = 0.5 * rng.standard_normal(SHAPES["moments"][:1] + (4,) + SHAPES["moments"][2:])
    logvar = 0.5 * rng.standard_normal(mean.shape) - 1.0
    moments = np.concatenate([mean, logvar], axis=1).astype(np.float32)
    c0 = rng.standard_normal(SHAPES["wavelet_l1"]).astype(np.float32)
    c1 = (c0 + 0.1 * rng.standard_normal(c0.shape)).astype(np.float32)
    c2 = rng.standard_normal(SHAPES["wavelet_l2"]).astype(np.float32)
    c3 = (c2 + 0.1 * rng.standard_normal(c2.shape)).astype(np.float32)
    return dict(inputs=inputs, last_input=last_input, last_layer_weight=conv_w, last_layer_bias=conv_b,
                moments=moments, wavelet_0=c0, wavelet_1=c1, wavelet_2=c2, wavelet_3=c3)


def make_discriminator():
    import torch
    from opensora.models.causalvideovae.model.losses.discriminator import NLayerDiscriminator3D, weights_init

    torch.manual_seed(0)
    disc = NLayerDiscriminator3D(**DISC).apply(weights_init)
    return {k: v.detach().clone() for k, v in disc.state_dict().items()}


def run_case(case, data, disc_state, dtype):
    """One call of the original loss in `dtype`: (loss, log, arrays recorded on the way)."""
    import torch
    from opensora.models.causalvideovae.model.losses.discriminator import NLayerDiscriminator3D
    from opensora.models.causalvideovae.model.losses.perceptual_loss import LPIPSWithDiscriminator3D
    from opensora.models.causalvideovae.model.modules.conv import Conv2d
    from opensora.models.causalvideovae.model.utils.distrib_utils import DiagonalGaussianDistribution

    config_name, mode, optimizer_idx, step, use_wavelet = CASES[case]
    loss = LPIPSWithDiscriminator3D(**CONFIGS[config_name])
    loss.discriminator = NLayerDiscriminator3D(**DISC)
    loss.discriminator.load_state_dict(disc_state, strict=True)
    loss = loss.to(dtype)
    loss.train(mode == "train")
    loss.perceptual_loss.eval()  # LPIPS().eval() in the constructor; a train() call would switch its dropout on
    recorded = {}
    adaptive = loss.calculate_adaptive_weight

    def record_grads(nll_loss, g_loss, last_layer=None):
        recorded["nll_grads"] = torch.autograd.grad(nll_loss, last_layer, retain_graph=True)[0]
        recorded["g_grads"] = torch.autograd.grad(g_loss, last_layer, retain_graph=True)[0]
        return adaptive(nll_loss, g_loss, last_layer=last_layer)

    loss.calculate_adaptive_weight = record_grads
    conv_out = Conv2d(SHAPES["last_input"][1], 3, kernel_size=3, stride=1, padding=1).to(dtype)
    with torch.no_grad():
        conv_out.weight.copy_(torch.from_numpy(data["last_layer_weight"]))
        conv_out.bias.copy_(torch.from_numpy(data["last_layer_bias"]))
    t = {k: torch.from_numpy(v).to(dtype) for k, v in data.items()}
    recon = t["inputs"] + conv_out(t["last_input"])  # (B, C, T, H, W), video_to_image folds the frames
    posterior = DiagonalGaussianDistribution(t["moments"])
    wavelet = [t[f"wavelet_{i}"] for i in range(4)] if use_wavelet else None
    value, log = loss(t["inputs"], recon, posterior, optimizer_idx, step, split="train",
                      last_layer=conv_out.weight, wavelet_coeffs=wavelet)
    out = {"loss": value.detach().to(torch.float64).numpy()}
    out.update({k.split("/", 1)[1]: v.detach().to(torch.float64).numpy() for k, v in log.items()})
    if mode == "train":  # the running statistics every train-mode forward updated
        for name, v in loss.discriminator.state_dict().items():
            if name.endswith(("running_mean", "running_var")):
                out[f"bn_after/{name}"] = v.detach().to(torch.float64).numpy()
    for name, v in recorded.items():
        out[name] = v.detach().to(torch.float64).numpy()
    return out


def tolerance(fp32, fp64):
    """8x the original's own fp32-vs-fp64 spread, at least 1e-6 (rounded up to one significant digit)."""
    spread = float(np.max(np.abs(fp32.astype(np.float64) - fp64))) if fp32.size else 0.0
    tol = max(8 * spread, 1e-6)
    exponent = np.floor(np.log10(tol))
    return float("%.1g" % (np.ceil(tol / 10 ** exponent) * 10 ** exponent))


def write_manifest(folder):
    manifest = {}
    for root, _, files in os.walk(folder):
        for file in sorted(files):
            if file == "MANIFEST.sha256":
                continue
            path = os.path.join(root, file)
            manifest[os.path.relpath(path, folder)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    with open(os.path.join(folder, "MANIFEST.sha256"), "w") as f:
        f.writelines(f"{digest}  {rel}\n" for rel, digest in sorted(manifest.items()))


def main():
    import torch
    from safetensors.torch import save_file

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(2)
    stub_torchvision()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        point_lpips_at_heads(tmp)
        data = make_inputs()
        disc_state = make_discriminator()
        cases, arrays, tolerances = {}, {}, {}
        for case in CASES:
            out32 = run_case(case, data, disc_state, torch.float32)
            out64 = run_case(case, data, disc_state, torch.float64)
            tolerances[case] = {k: tolerance(out32[k], out64[k]) for k in out32}
            cases[case] = {k: float(v) for k, v in out32.items() if v.ndim == 0}
            arrays.update({f"{case}/{k}": v.astype(np.float32) for k, v in out32.items() if v.ndim > 0})
            print(case, cases[case])
    np.savez(os.path.join(args.out, "inputs.npz"), **data)
    np.savez(os.path.join(args.out, "case_arrays.npz"), **arrays)
    save_file({k: v.contiguous() for k, v in disc_state.items()}, os.path.join(args.out, "discriminator.safetensors"))
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump({name: {"config": CASES[name][0], "mode": CASES[name][1], "optimizer_idx": CASES[name][2],
                          "global_step": CASES[name][3], "wavelet_coeffs": CASES[name][4], "expected": cases[name]}
                   for name in CASES}, f, indent=1)
    with open(os.path.join(args.out, "tolerances.json"), "w") as f:
        json.dump(tolerances, f, indent=1)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump({"class": "opensora.models.causalvideovae.model.losses.LPIPSWithDiscriminator3D (v1.3.1)",
                   "configs": CONFIGS,
                   "discriminator": {"replaces": "loss.discriminator", "class": "NLayerDiscriminator3D", "kwargs": DISC,
                                     "init": "torch.manual_seed(0); .apply(weights_init)"},
                   "last_layer": "Conv2d(4, 3, 3, padding=1) per frame; recon = inputs + conv_out(last_input)",
                   "call": "loss(inputs, recon, DiagonalGaussianDistribution(moments), optimizer_idx, global_step, "
                           "split='train', last_layer=conv_out.weight, wavelet_coeffs=[wavelet_0..3] or None)",
                   "shapes": SHAPES}, f, indent=1)
    write_manifest(args.out)


if __name__ == "__main__":
    main()
