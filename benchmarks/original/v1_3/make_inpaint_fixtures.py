"""Ground truth for the v1.3 image-to-video / inpainting port (tests/fixtures/v1_3_inpaint), from the ORIGINAL
Open-Sora-Plan v1.3.1: the OpenSoraInpaint_v1_3 forward on a tiny config (fp32 and fp64), every mask generator of
opensora/utils/mask_utils.py (Python's `random` seeded, as the original draws), the MaskCompressor, and
CenterCropResizeVideo (opensora/dataset/transform.py: centre crop to the aspect, then torch's antialiased bilinear
resize with align_corners=True) on a real photo, float and uint8.

    PYTHONPATH=osp-v1.3.1 /work/scratch/torchvenv/bin/python benchmarks/original/v1_3/make_inpaint_fixtures.py \\
        --out tests/fixtures/v1_3_inpaint

mask_utils imports cv2 and imageio for its video helpers (not used here): stand-in modules are registered.
The photo: scikit-image's astronaut (512x512), passed in as tests/fixtures/v1_3_inpaint/photo.npy by this script's
caller (`--photo`, an .npy of it: torch's venv has no scikit-image).
"""

import argparse
import contextlib
import json
import os
import random
import sys
import types

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_v1_3_pipeline_fixtures import TRANSFORMER  # noqa: E402  (sibling script)
from make_wfvae_fixtures import stub_torchvision, tolerance, weight_rule, write_manifest  # noqa: E402

INPAINT = dict(TRANSFORMER, vae_scale_factor_t=4)
MASK_CASES = [  # (mask type, frames, seed): the random ones at several seeds
    ("t2iv", 9, 0), ("i2v", 9, 0), ("transition", 9, 0), ("clear", 9, 0),
    ("continuation", 9, 1), ("continuation", 9, 2), ("continuation", 17, 3),
    ("random_temporal", 9, 4), ("random_temporal", 9, 5), ("random_temporal", 17, 6),
]
RATIO_CASE = dict(ratios={"t2iv": 0.05, "i2v": 0.6, "transition": 0.1, "continuation": 0.1, "clear": 0.05,
                          "random_temporal": 0.1}, seed=7, draws=40)
RESIZE_CASES = [(48, 64), (64, 48), (40, 40), (120, 200)]
# one conditioned pipeline call each (the sample script's inpaint branch): image-to-video, a transition between two
# images, and image-to-video without --crop_for_hw (maxhwresize to max_hxw, then a crop to multiples of 32)
PIPELINE_CASES = {
    "i2v": dict(images=["cond_first.png"], mask_type=None, crop_for_hw=True, max_hxw=236544, seed=11,
                prompt="an astronaut smiles", steps=3, guidance_scale=7.5, num_frames=9, height=48, width=64),
    "transition": dict(images=["cond_first.png", "cond_last.png"], mask_type=None, crop_for_hw=True, max_hxw=236544,
                       seed=12, prompt="a person turns into a cat", steps=3, guidance_scale=4.0, num_frames=9,
                       height=48, width=64),
    "i2v_max_hxw": dict(images=["cond_last.png"], mask_type="i2v", crop_for_hw=False, max_hxw=64 * 64, seed=13,
                        prompt="a cat looks up", steps=2, guidance_scale=7.5, num_frames=5, height=48, width=64),
}


def source_root():
    import importlib.util

    return os.path.dirname(os.path.dirname(importlib.util.find_spec("opensora").origin))


def stub_modules():
    stub_torchvision()
    import importlib.machinery

    for name in ("cv2", "imageio", "ftfy"):
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        sys.modules.setdefault(name, module)


def inpaint_forward(dtype):
    import torch
    from opensora.models.diffusion.opensora_v1_3.modeling_inpaint import OpenSoraInpaint_v1_3

    model = OpenSoraInpaint_v1_3(**INPAINT).eval()
    for name, value in model.state_dict().items():  # the zero-initialised layers get weights too
        value.copy_(torch.from_numpy(weight_rule(name, tuple(value.shape))))
    model = model.to(dtype)
    rng = np.random.RandomState(21)
    c = INPAINT["in_channels"]
    arrays = dict(hidden_states=rng.standard_normal((2, 2 * c + 4, 3, 6, 8)).astype(np.float32),
                  timestep=np.array([999, 123], np.int64),
                  text=rng.standard_normal((2, 1, 7, INPAINT["caption_channels"])).astype(np.float32),
                  encoder_attention_mask=np.array([[[1] * 7], [[1] * 4 + [0] * 3]], np.float32))
    with torch.no_grad():
        out = model(torch.from_numpy(arrays["hidden_states"]).to(dtype), torch.from_numpy(arrays["timestep"]),
                    attention_mask=torch.ones((2, 3, 6, 8), dtype=dtype),
                    encoder_hidden_states=torch.from_numpy(arrays["text"]).to(dtype),
                    encoder_attention_mask=torch.from_numpy(arrays["encoder_attention_mask"]).to(dtype),
                    return_dict=False)[0]
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    return arrays, out.double().numpy(), shapes


def masks():
    import torch
    from opensora.utils.mask_utils import STR_TO_TYPE, MaskCompressor, MaskProcessor

    processor = MaskProcessor(min_clear_ratio=0.0, max_clear_ratio=1.0)
    out, cases = {}, []
    for kind, frames, seed in MASK_CASES:
        random.seed(seed)
        pixels = torch.ones((frames, 3, 16, 16))
        # the enum member: with a string, `mask_type in MaskType` raises TypeError on Python < 3.12
        result = processor(pixels, mask_type=STR_TO_TYPE[kind])
        key = f"mask/{kind}_{frames}_{seed}"
        out[key] = result["mask"].numpy()
        cases.append(dict(key=key, kind=kind, frames=frames, seed=seed))
    half = MaskProcessor(min_clear_ratio=0.5, max_clear_ratio=0.5)  # the inpaint pipeline's
    random.seed(9)
    out["mask/pipeline_continuation_9"] = half(torch.ones((9, 3, 16, 16)),
                                                      mask_type=STR_TO_TYPE["continuation"])["mask"].numpy()
    random.seed(RATIO_CASE["seed"])
    ratios = {STR_TO_TYPE[k]: v for k, v in RATIO_CASE["ratios"].items()}
    chosen = []
    for _ in range(RATIO_CASE["draws"]):
        chosen.append(int(processor(torch.ones((9, 3, 16, 16)), mask_type_ratio_dict=ratios)["mask"].sum()))
    out["ratio_draws_mask_sums"] = np.array(chosen, np.int64)
    compressor = MaskCompressor(ae_stride_h=8, ae_stride_w=8, ae_stride_t=4)
    rng = np.random.RandomState(5)
    for frames in (9, 8):
        mask = (rng.random_sample((1, 1, frames, 32, 48)) > 0.5).astype(np.float32)
        out[f"compress_in_{frames}"] = mask
        out[f"compress_out_{frames}"] = compressor(torch.from_numpy(mask)).numpy()
    return out, cases


def load_transform_module():
    """opensora/dataset/transform.py on its own (the package's __init__ pulls in torchvision's datasets API)."""
    import importlib.util

    tv = sys.modules["torchvision.transforms"]
    for name in ("RandomCrop", "RandomResizedCrop", "Compose", "Resize"):
        setattr(tv, name, getattr(tv, name, type(name, (), {})))
    root = os.path.dirname(os.path.dirname(importlib.util.find_spec("opensora").origin))
    spec = importlib.util.spec_from_file_location("osp_transform", os.path.join(root, "opensora", "dataset",
                                                                                 "transform.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def resizes(photo):
    import torch

    CenterCropResizeVideo = load_transform_module().CenterCropResizeVideo

    out = {}
    clip_u8 = torch.from_numpy(photo).permute(2, 0, 1)[None]  # (1, 3, H, W) uint8, as get_pixel_values
    for h, w in RESIZE_CASES:
        transform = CenterCropResizeVideo((h, w))
        out[f"resize_u8_{h}x{w}"] = transform(clip_u8).numpy()
        out[f"resize_f32_{h}x{w}"] = transform(clip_u8.float() / 255).numpy()
    return out


def original_inpaint_pipeline(dtype, source_root):
    """OpenSoraInpaintPipeline with the tiny mT5 / WF-VAE of the text-to-video fixtures and the tiny inpaint DiT."""
    import importlib.machinery

    import torch
    from make_v1_3_pipeline_fixtures import FIXTURES, get_scheduler

    for name in ("decord", "altair"):
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        module.condition = None
        sys.modules.setdefault(name, module)
    dataset = types.ModuleType("opensora.dataset")  # the package's __init__ needs torchvision's real API
    dataset.__path__ = []
    sys.modules.setdefault("opensora.dataset", dataset)
    sys.modules.setdefault("opensora.dataset.transform", load_transform_module())
    tv = sys.modules["torchvision.transforms"]

    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, x):
            for t in self.transforms:
                x = t(x)
            return x

    tv.Compose, tv.Resize = Compose, type("Resize", (), {})
    from opensora.models.causalvideovae import WFVAEModelWrapper, ae_stride_config
    from opensora.models.diffusion.opensora_v1_3.modeling_inpaint import OpenSoraInpaint_v1_3
    from opensora.sample.pipeline_inpaint import OpenSoraInpaintPipeline
    from transformers import AutoTokenizer, MT5EncoderModel

    mt5 = os.path.join(FIXTURES, "mt5_tiny", "hf")
    vae = WFVAEModelWrapper(os.path.join(FIXTURES, "wfvae_tiny", "ln_release"))
    vae.vae_scale_factor = ae_stride_config["WFVAEModel_D8_4x8x8"]
    vae = vae.to(dtype).eval()
    transformer = OpenSoraInpaint_v1_3(**INPAINT).eval()
    for name, value in transformer.state_dict().items():
        value.copy_(torch.from_numpy(weight_rule(name, tuple(value.shape))))
    scheduler = get_scheduler(dict(sample_method="EulerAncestralDiscrete", prediction_type="v_prediction",
                                   rescale_betas_zero_snr=True), source_root)
    return OpenSoraInpaintPipeline(vae=vae, text_encoder=MT5EncoderModel.from_pretrained(mt5, torch_dtype=dtype).eval(),
                                   tokenizer=AutoTokenizer.from_pretrained(mt5), transformer=transformer.to(dtype),
                                   scheduler=scheduler)


def run_pipeline_case(case, dtype, source_root, out_dir):
    """One call; the initial latents, the conditioning latents' posterior noise and each ancestral step's noise
    come from np.random.default_rng(seed) in that order (what this port draws)."""
    import diffusers.schedulers.scheduling_euler_ancestral_discrete as euler_a
    import torch
    from make_v1_3_pipeline_fixtures import MAX_SEQUENCE_LENGTH, sample_script_prompts
    from opensora.models.causalvideovae.model.utils import distrib_utils

    positive, negative = sample_script_prompts(source_root)
    pipe = original_inpaint_pipeline(dtype, source_root)
    rng = np.random.default_rng(case["seed"])

    def stream(shape, like_dtype):
        return torch.from_numpy(rng.standard_normal(tuple(shape)).astype(np.float32)).to(like_dtype)

    euler_a.randn_tensor = lambda shape, generator=None, device=None, dtype=None, layout=None: stream(shape, dtype)

    def posterior_sample(self, generator=None):  # DiagonalGaussianDistribution.sample, from the stream
        return self.mean + self.std * stream(self.mean.shape, self.mean.dtype)

    distrib_utils.DiagonalGaussianDistribution.sample = posterior_sample
    steps = []
    images = [os.path.join(out_dir, name) for name in case["images"]]
    # prepare_latents runs before the conditioning is encoded: the latents are drawn first, at the real size, which
    # --crop_for_hw makes the asked size and max_hxw makes the resized image's (worked out as the pipeline does)
    from PIL import Image

    transform = load_transform_module()
    if case["crop_for_hw"]:
        real_h, real_w = case["height"], case["width"]
    else:
        h, w = min(Image.open(p).size[1] for p in images), min(Image.open(p).size[0] for p in images)
        h, w = transform.maxhwresize(h, w, case["max_hxw"])
        real_h, real_w = h // 32 * 32, w // 32 * 32
    shape = (1, INPAINT["in_channels"], (case["num_frames"] - 1) // 4 + 1, real_h // 8, real_w // 8)
    latents = rng.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        videos = pipe(conditional_pixel_values_path=images, mask_type=case["mask_type"],
                      crop_for_hw=case["crop_for_hw"], max_hxw=case["max_hxw"],
                      prompt=positive.format(case["prompt"]), negative_prompt=negative,
                      num_frames=case["num_frames"], height=case["height"], width=case["width"],
                      num_inference_steps=case["steps"], guidance_scale=case["guidance_scale"],
                      num_samples_per_prompt=1, max_sequence_length=MAX_SEQUENCE_LENGTH,
                      latents=torch.from_numpy(latents).to(dtype), device="cpu",
                      callback_on_step_end=lambda _p, i, t, kw: steps.append(kw["latents"].double().numpy()) or {}
                      ).videos
    outputs = {f"latents_step{i}": s for i, s in enumerate(steps)}
    return {"video_uint8": videos.numpy(), "real_size": np.array([real_h, real_w])}, outputs


def main():
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--photo", required=True, help=".npy of an RGB uint8 photo (H, W, 3)")
    args = parser.parse_args()
    stub_modules()
    torch.backends.cuda.sdp_kernel = lambda **kw: contextlib.nullcontext()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    arrays, out32, shapes = inpaint_forward(torch.float32)
    _, out64, _ = inpaint_forward(torch.float64)
    np.savez_compressed(os.path.join(args.out, "inpaint_forward.npz"), **arrays, output=out32.astype(np.float32))
    with open(os.path.join(args.out, "inpaint_state_shapes.json"), "w") as f:
        json.dump(shapes, f, indent=1)
    mask_arrays, mask_cases = masks()
    np.savez_compressed(os.path.join(args.out, "masks.npz"), **mask_arrays)
    photo = np.load(args.photo)
    np.savez_compressed(os.path.join(args.out, "resize.npz"), **resizes(photo))  # the photo: skimage.data
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump({"inpaint_config": {"_class_name": "OpenSoraInpaint_v1_3", **INPAINT},
                   "tolerance": tolerance(out32, out64), "mask_cases": mask_cases, "ratio_case": RATIO_CASE,
                   "resize_cases": RESIZE_CASES}, f, indent=1)
    pipeline_tolerances = {}
    for name, case in PIPELINE_CASES.items():
        arrays32, steps32 = run_pipeline_case(case, torch.float32, source_root(), args.out)
        arrays64, steps64 = run_pipeline_case(case, torch.float64, source_root(), args.out)
        np.savez_compressed(os.path.join(args.out, f"pipeline_{name}.npz"), **arrays32,
                            **{k: v.astype(np.float32) for k, v in steps32.items()})
        moved = np.abs(arrays32["video_uint8"].astype(np.int32) - arrays64["video_uint8"].astype(np.int32))
        pipeline_tolerances[name] = {**{k: tolerance(steps32[k], steps64[k]) for k in steps32},
                                     "video_uint8_max_step": int(max(1, moved.max()))}
        print(name, arrays32["video_uint8"].shape, pipeline_tolerances[name])
    with open(os.path.join(args.out, "pipeline_cases.json"), "w") as f:
        json.dump({"cases": PIPELINE_CASES, "tolerances": pipeline_tolerances}, f, indent=1)
    write_manifest(args.out)
    print("tolerance", tolerance(out32, out64))


if __name__ == "__main__":
    main()
