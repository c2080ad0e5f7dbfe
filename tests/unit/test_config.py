import argparse

import pytest

from opensora.utils.config import add_bool_flag, parse_args, save_config
from opensora.utils.errors import UserError


def make_parser():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="")
    p.add_argument("--num_frames", type=int, default=17)
    p.add_argument("--output_path", default="out")
    add_bool_flag(p, "--enable_tiling", False, "")
    return p


def test_yaml_sets_defaults_and_cli_overrides(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("num_frames: 33\noutput_path: from_yaml\nenable_tiling: true\n")
    args = parse_args(make_parser(), ["--config", str(cfg), "--num_frames", "9"])
    assert args.num_frames == 9  # CLI wins
    assert args.output_path == "from_yaml"  # YAML beats the parser default
    assert args.enable_tiling is True
    args = parse_args(make_parser(), ["--config", str(cfg), "--enable_tiling", "False"])
    assert args.enable_tiling is False
    assert parse_args(make_parser(), ["--enable_tiling"]).enable_tiling is True


def test_unknown_key_is_one_line_error_naming_file_and_key(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("num_frame: 33\n")
    with pytest.raises(UserError) as err:
        parse_args(make_parser(), ["--config", str(cfg)])
    msg = str(err.value)
    assert str(cfg) in msg and "num_frame" in msg and "num_frames" in msg and "\n" not in msg


def test_missing_config_file(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        parse_args(make_parser(), ["--config", str(tmp_path / "nope.yaml")])


def test_resolved_config_is_saved(tmp_path):
    import yaml

    args = parse_args(make_parser(), ["--num_frames", "5"])
    path = save_config(args, str(tmp_path))
    assert yaml.safe_load(open(path))["num_frames"] == 5
