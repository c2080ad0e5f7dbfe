"""Ground truth for the v1.3 text-to-video pipeline (tests/fixtures/v1_3_pipeline): the ORIGINAL Open-Sora-Plan
v1.3.1 `OpenSoraPipeline` (opensora/sample/pipeline_opensora.py) as its sample script drives it
(opensora/utils/sample_utils.py: get_scheduler's kwargs, the positive-prompt wrapper and negative prompt of
run_model_and_save_samples), end to end on tiny stand-ins: the tiny mT5 of tests/fixtures/mt5_tiny, a tiny
OpenSoraT2V_v1_3 (Skiparse, caption_channels = the mT5 width), the tiny WF-VAE release folder of
tests/fixtures/wfvae_tiny/ln_release -- in fp32, and again in fp64 for the tolerances.

Not part of this project's install (see make_wfvae_fixtures.py for the environment):

    PYTHONPATH=osp-v1.3.1 /work/scratch/torchvenv/bin/python \\
        benchmarks/original/v1_3/make_v1_3_pipeline_fixtures.py --out tests/fixtures/v1_3_pipeline

Noise: the initial latents and each EulerAncestral step's noise come from one numpy stream,
`np.random.default_rng(seed)`, drawn in the order this port's infer_diffusion.py draws them (latents first, then one
`standard_normal(model_output.shape)` per step); diffusers' `randn_tensor` in the ancestral scheduler is replaced by
that stream. So the port's own CLI, given the same seed, must reproduce these videos.

The two prompt strings are read from the original's sample_utils.py source (not copied), so a change there shows up
here. Transformer weights: `weight_rule` of make_wfvae_fixtures.py (tests/original_weights.py rebuilds them).
"""

import argparse
import ast
import contextlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_wfvae_fixtures import stub_torchvision, tolerance, weight_rule, write_manifest  # noqa: E402  (sibling script)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "fixtures")
TRANSFORMER = dict(num_attention_heads=2, attention_head_dim=12, in_channels=4, out_channels=4, num_layers=4,
                   cross_attention_dim=24, attention_bias=True, sample_size_h=6, sample_size_w=8, sample_size_t=3,
                   patch_size=2, patch_size_t=1, activation_fn="gelu-approximate", norm_elementwise_affine=False,
                   norm_eps=1e-6, caption_channels=48, interpolation_scale_h=1.0, interpolation_scale_w=1.0,
                   interpolation_scale_t=1.0, sparse1d=True, sparse_n=4)
CASES = {
    # the released sample command: EulerAncestralDiscrete, v-prediction, zero-terminal SNR (=> trailing)
    "euler_ancestral": dict(sample_method="EulerAncestralDiscrete", prediction_type="v_prediction",
                            rescale_betas_zero_snr=True, guidance_scale=7.5, guidance_rescale=0.7, steps=3,
                            prompt="a red ball rolls to the left", seed=1234, num_frames=9, height=48, width=64),
    # deterministic DDIM, epsilon with the "leading" spacing get_scheduler gives without --rescale_betas_zero_snr
    "ddim": dict(sample_method="DDIM", prediction_type="epsilon", rescale_betas_zero_snr=False, guidance_scale=4.5,
                 guidance_rescale=0.0, steps=4, prompt="ein blauer Würfel", seed=7, num_frames=9, height=48,
                 width=64),
}
MAX_SEQUENCE_LENGTH = 32  # the release uses 512; the negative prompt is longer than 32 tokens, so it is truncated


def sample_script_prompts(source_root):
    """(positive_prompt, negative_prompt) as assigned in sample_utils.run_model_and_save_samples."""
    path = os.path.join(source_root, "opensora", "utils", "sample_utils.py")
    tree = ast.parse(open(path).read())
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("positive_prompt", "negative_prompt") and isinstance(node.value, ast.Constant):
                found[node.targets[0].id] = node.value.value
    return found["positive_prompt"], found["negative_prompt"]


def get_scheduler(case, source_root):
    """sample_utils.get_scheduler for the case's flags: the function's own source, run beside diffusers' schedulers
    (importing sample_utils itself would pull in the inpaint pipeline's decord, altair and torchvision)."""
    from types import SimpleNamespace

    import diffusers.schedulers as schedulers

    path = os.path.join(source_root, "opensora", "utils", "sample_utils.py")
    tree = ast.parse(open(path).read())
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "get_scheduler")
    namespace = {name: getattr(schedulers, name) for name in dir(schedulers) if name.endswith("Scheduler")}
    exec(compile(ast.Module(body=[function], type_ignores=[]), path, "exec"), namespace)
    return namespace["get_scheduler"](SimpleNamespace(
        prediction_type=case["prediction_type"], rescale_betas_zero_snr=case["rescale_betas_zero_snr"],
        v1_5_scheduler=False, sample_method=case["sample_method"]))


def build_pipeline(case, dtype, source_root):
    import torch
    from opensora.models.causalvideovae import WFVAEModelWrapper, ae_stride_config
    from opensora.models.diffusion.opensora_v1_3.modeling_opensora import OpenSoraT2V_v1_3
    from opensora.sample.pipeline_opensora import OpenSoraPipeline
    from transformers import AutoTokenizer, MT5EncoderModel

    mt5 = os.path.join(FIXTURES, "mt5_tiny", "hf")
    vae = WFVAEModelWrapper(os.path.join(FIXTURES, "wfvae_tiny", "ln_release"))
    vae.vae_scale_factor = ae_stride_config["WFVAEModel_D8_4x8x8"]
    vae = vae.to(dtype).eval()
    text_encoder = MT5EncoderModel.from_pretrained(mt5, torch_dtype=dtype).eval()
    tokenizer = AutoTokenizer.from_pretrained(mt5)
    transformer = OpenSoraT2V_v1_3(**TRANSFORMER).eval()
    for name, value in transformer.state_dict().items():
        value.copy_(torch.from_numpy(weight_rule(name, tuple(value.shape))))
    transformer = transformer.to(dtype)
    return OpenSoraPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer,
                            scheduler=get_scheduler(case, source_root))


def run_case(case, dtype, source_root):
    import diffusers.schedulers.scheduling_euler_ancestral_discrete as euler_a
    import torch

    positive, negative = sample_script_prompts(source_root)
    pipe = build_pipeline(case, dtype, source_root)
    rng = np.random.default_rng(case["seed"])
    shape = (1, TRANSFORMER["in_channels"], (case["num_frames"] - 1) // 4 + 1, case["height"] // 8,
             case["width"] // 8)
    latents = rng.standard_normal(shape).astype(np.float32)
    noises = []

    def stream_noise(shape, generator=None, device=None, dtype=None, layout=None):
        noise = rng.standard_normal(tuple(shape)).astype(np.float32)
        noises.append(noise)
        return torch.from_numpy(noise).to(dtype)

    euler_a.randn_tensor = stream_noise
    steps, decoded = [], {}
    original_decode = pipe.vae.decode

    def recording_decode(x):
        out = original_decode(x)
        decoded["video_float"] = out.to(torch.float64).numpy()
        return out

    pipe.vae.decode = recording_decode

    def on_step(_pipe, i, t, kwargs):
        steps.append(kwargs["latents"].to(torch.float64).numpy())
        return {}

    with torch.no_grad():
        videos = pipe(positive.format(case["prompt"]), negative_prompt=negative, num_frames=case["num_frames"],
                      height=case["height"], width=case["width"], num_inference_steps=case["steps"],
                      guidance_scale=case["guidance_scale"], guidance_rescale=case["guidance_rescale"],
                      num_samples_per_prompt=1, max_sequence_length=MAX_SEQUENCE_LENGTH,
                      latents=torch.from_numpy(latents).to(dtype), callback_on_step_end=on_step,
                      device="cpu").videos
    timesteps = np.asarray(pipe.scheduler.timesteps, np.float64)
    outputs = {f"latents_step{i}": s for i, s in enumerate(steps)}
    outputs["video_float"] = decoded["video_float"]  # (B, T, C, H, W), the wrapper's layout
    arrays = {"initial_latents": latents, "timesteps": timesteps, "video_uint8": videos.numpy(),
              **{f"noise_step{i}": n for i, n in enumerate(noises)}}
    return arrays, outputs


def main():
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    stub_torchvision()
    torch.backends.cuda.sdp_kernel = lambda **kw: contextlib.nullcontext()
    torch.set_num_threads(2)
    import importlib.util

    source_root = os.path.dirname(os.path.dirname(importlib.util.find_spec("opensora").origin))
    prompts = sample_script_prompts(source_root)
    os.makedirs(args.out, exist_ok=True)
    tolerances, cases = {}, {}
    for name, case in CASES.items():
        arrays, out32 = run_case(case, torch.float32, source_root)
        arrays64, out64 = run_case(case, torch.float64, source_root)
        np.savez_compressed(os.path.join(args.out, f"{name}.npz"), **arrays,
                            **{k: v.astype(np.float32) for k, v in out32.items()})
        tolerances[name] = {k: tolerance(out32[k], out64[k]) for k in out32}
        # how many uint8 values fp64 moves (truncation to uint8 turns a tiny float change into a step of 1)
        moved = np.abs(arrays["video_uint8"].astype(np.int32) - arrays64["video_uint8"].astype(np.int32))
        tolerances[name]["video_uint8_max_step"] = int(max(1, moved.max()))
        cases[name] = case
        print(name, {k: v.shape for k, v in out32.items()}, tolerances[name])
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump({"cases": cases, "transformer_config": {"_class_name": "OpenSoraT2V_v1_3", **TRANSFORMER},
                   "max_sequence_length": MAX_SEQUENCE_LENGTH, "positive_prompt": prompts[0],
                   "negative_prompt": prompts[1], "tolerances": tolerances}, f, indent=1, ensure_ascii=False)
    shapes = {k: list(v.shape) for k, v in build_pipeline(CASES["ddim"], torch.float32, source_root).transformer
              .state_dict().items()}
    with open(os.path.join(args.out, "transformer_state_shapes.json"), "w") as f:
        json.dump(shapes, f, indent=1)
    write_manifest(args.out)


if __name__ == "__main__":
    main()
