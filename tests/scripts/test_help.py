"""`python <script> -h` works for every entry script, without any model file."""

import pytest
from conftest import run_script

ENTRY_SCRIPTS = [
    "infer_ae.py",
    "infer_t5.py",
    "infer_diffusion.py",
    "train_diffusion.py",
    "tools/model_conversion/convert_vae.py",
    "tools/model_conversion/convert_latte.py",
    "tools/cache_vae_latents.py",
    "tools/make_demo_clips.py",
    "train.py",
    "tools/model_conversion/convert_lpips.py",
    "tools/model_conversion/inflate_vae2d_to_vae3d.py",
    "examples/toy_world/make_toy_dataset.py",
    "examples/toy_world/make_demo_t5.py",
    "examples/toy_world/eval_demo_model.py",
]


@pytest.mark.parametrize("script", ENTRY_SCRIPTS)
def test_help_works_without_models(script):
    result = run_script([script, "-h"], timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout
