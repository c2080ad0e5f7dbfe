"""`python <script> -h` works for every entry script, without any model file."""

import argparse
import os

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
    "examples/toy_world/probe_caption_layout.py",
    "examples/toy_world/train_latte.py",
]


@pytest.mark.parametrize("script", ENTRY_SCRIPTS)
def test_help_works_without_models(script):
    result = run_script([script, "-h"], timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout


@pytest.mark.parametrize("script", ENTRY_SCRIPTS)
def test_every_flag_has_a_help_line_and_its_default(script):
    """`-h` explains every flag and shows its default (one shared formatter, opensora.utils.config.HelpFormatter)."""
    import importlib.util

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("entry", os.path.join(REPO, script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parser = module.build_parser()
    undocumented = [a.option_strings[0] for a in parser._actions if a.option_strings[0] != "-h" and not a.help]
    assert not undocumented, undocumented
    text = parser.format_help()
    for action in parser._actions:
        if action.default not in (None, "", argparse.SUPPRESS) and action.option_strings[0] != "-h":
            assert f"(default: {action.default})" in " ".join(text.split()), action.option_strings[0]


def test_readme_tells_a_newcomer_what_the_demo_and_the_tests_need():
    """The venv to activate, the test suite's duration and `make check`, the demo model's whole vocabulary and what
    `make demo-vae` shows; no command whose last line ends in a dangling `\\`."""
    import re

    from conftest import REPO
    from toy_world.toy_shapes import COLOURS, MOTIONS, SHAPES

    text = open(os.path.join(REPO, "README.md")).read()
    flat = " ".join(text.split())
    assert ". .venv/bin/activate" in text and "make check" in text and "about 30 minutes on a 2-core CPU" in text
    for word in [*COLOURS, *SHAPES, *MOTIONS]:
        assert f"`{word}`" in flat, word
    assert "make demo-vae" in text and "~11 dB" in text
    for block in re.findall(r"^```[^\n`]*\n(.*?)^```", text, flags=re.S | re.M):
        lines = block.rstrip("\n").split("\n")
        dangling = [a for a, b in zip(lines, lines[1:] + [""]) if a.rstrip().endswith("\\") and not b.strip()]
        assert not dangling, dangling
