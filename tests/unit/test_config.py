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


def _typed_parser():
    from opensora.utils.config import add_common_flags, positive_int, seed_int

    p = argparse.ArgumentParser()
    add_common_flags(p)
    p.add_argument("--sampling_steps", type=positive_int, default=50)
    p.add_argument("--seed", type=seed_int, default=42)
    p.add_argument("--guidance_scale", type=float, default=7.5)
    p.add_argument("--captions", nargs="+", default=["a cat"])
    p.add_argument("--betas", type=float, nargs=2, default=[0.9, 0.999])
    p.add_argument("--save_format", default="mp4", choices=["mp4", "gif"])
    add_bool_flag(p, "--jit", False, "compile")
    return p


@pytest.mark.parametrize("yaml_text, message", [
    ("sampling_steps: 5.5", "sampling_steps: --sampling_steps takes an integer, got 5.5"),
    ("sampling_steps: 0", "expected a positive integer, got 0"),
    ("seed: [1, 2]", "--seed takes one value, got the list [1, 2]"),
    ("seed: -5", "expected an integer >= 0, got -5"),
    ("seed: 4294967296", "expected an integer in [0, 2**32)"),
    ("sampling_steps: true", "--sampling_steps takes a value, not True"),
    ("betas: [0.9]", "--betas takes 2 values, got [0.9]"),
    ("save_format: avi", "--save_format must be one of mp4, gif, got 'avi'"),
    ("guidance_scale: abc", "--guidance_scale could not convert string to float"),
    ("captions: {a: 1}", "--captions takes plain values"),
])
def test_yaml_values_get_their_flags_type_range_and_choices(tmp_path, yaml_text, message):
    """The same rule as on the command line, as a one-line error naming the file and the key."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text + "\n")
    with pytest.raises(UserError) as err:
        parse_args(_typed_parser(), ["--config", str(cfg)])
    assert str(cfg) in str(err.value) and message in str(err.value), str(err.value)


def test_yaml_values_that_are_fine_as_written_are_typed():
    """A number for a prompt or a path becomes its text; one prompt for a list flag becomes a list of one."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write("captions: 12345\nguidance_scale: 7\nbetas: [0.5, 0.9]\njit: true\nseed: 3\n")
    args = parse_args(_typed_parser(), ["--config", f.name])
    assert args.captions == ["12345"] and args.guidance_scale == 7.0 and isinstance(args.guidance_scale, float)
    assert args.betas == [0.5, 0.9] and args.jit is True and args.seed == 3


def test_command_line_errors_are_one_line_not_the_usage_block():
    with pytest.raises(UserError, match="argument --sampling_steps: expected a positive integer, got '0'"):
        parse_args(_typed_parser(), ["--sampling_steps", "0"])
    with pytest.raises(UserError, match="unrecognized arguments: --nope"):
        parse_args(_typed_parser(), ["--nope"])


def test_config_beside_the_weights(tmp_path):
    """The converters' rule: --model_config, else the config.json next to --src, else the default; a named file
    that is missing is an error, not a silent fallback to the default."""
    from opensora.utils.config import config_beside

    default = tmp_path / "default.yaml"
    default.write_text("a: 1\n")
    src = tmp_path / "release" / "weights.safetensors"
    src.parent.mkdir()
    assert config_beside(str(src), "", str(default)) == str(default)
    (src.parent / "config.json").write_text("{}")
    assert config_beside(str(src), "", str(default)) == str(src.parent / "config.json")
    with pytest.raises(UserError, match="--model_config no/such.json: file not found"):
        config_beside(str(src), "no/such.json", str(default))
