"""Run settings: YAML files whose keys are the CLI flags; the command line overrides the YAML.

    parser = argparse.ArgumentParser(...); add flags ...
    args = parse_args(parser, argv)        # handles --config, unknown keys, precedence
    save_config(args, output_dir)          # the resolved settings, next to the outputs
"""

import argparse
import os

import yaml

from .errors import UserError

CONFIG_FILE_NAME = "config.yaml"


def str2bool(value):
    """argparse type accepting True/False/1/0/yes/no (the original scripts' `--flag True` style)."""
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("true", "1", "yes", "y", "on"):
        return True
    if lowered in ("false", "0", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (True/False), got {value!r}")


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Every entry script's `-h`: the module docstring as written, and each flag's default after its help."""


def _bounded(kind, low, what):
    def check(value):
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}") from None
        if number < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}")
        return number

    check.__name__ = what.replace(" ", "_")  # argparse names the type in its messages
    return check


# argparse types with a range, for flags and YAML values alike
positive_int = _bounded(int, 1, "a positive integer")
non_negative_int = _bounded(int, 0, "an integer >= 0")


def seed_int(value):
    """A seed MindSpore and numpy both take: an integer in [0, 2**32)."""
    number = non_negative_int(value)
    if number >= 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32), got {value!r}")
    return number


def add_bool_flag(parser, name, default, help):
    """`--name` alone means True; `--name False` is accepted too, as in the original scripts."""
    parser.add_argument(name, type=str2bool, nargs="?", const=True, default=default, help=help)


def add_common_flags(parser):
    parser.add_argument("--config", "-c", default="", help="YAML of run settings; its keys are these flags")
    add_bool_flag(parser, "--debug", False, "show full stack traces instead of one-line errors")
    parser.add_argument("--mode", type=int, default=1, help="MindSpore mode: 0 graph, 1 PyNative")
    parser.add_argument("--device_target", default="CPU", choices=["CPU", "Ascend", "GPU"], help="MindSpore backend")


def add_run_flags(parser, output_path, sample_help):
    """Flags every training script shares: outputs, checkpoints, logging, samples, resume, seed, data parallel."""
    parser.add_argument("--output_path", default=output_path, help="checkpoints, logs, curves and samples go here")
    parser.add_argument("--ckpt_save_interval", type=int, default=100, help="save every N optimizer steps")
    parser.add_argument("--ckpt_max_keep", type=int, default=10, help="checkpoints kept (older ones are removed)")
    parser.add_argument("--log_interval", type=int, default=1, help="print the losses every N optimizer steps")
    parser.add_argument("--sample_interval", type=int, default=0, help=sample_help)
    parser.add_argument("--resume", default="", help="True (latest in output_path/ckpt) or a checkpoint folder")
    parser.add_argument("--seed", type=seed_int, default=3407, help="seed of the data order, noise and initialisation")
    add_bool_flag(parser, "--use_parallel", False, "data-parallel over msrun workers (per-rank batch = --batch_size)")


# Defaults of the optimisation flags both trainers share; each script overrides the ones its original differs in.
OPTIMIZATION_DEFAULTS = dict(optim="adamw", betas=(0.9, 0.999), weight_decay=1e-2, scheduler="constant",
                             end_learning_rate=0.0, batch_size=1, epochs=1, init_loss_scale=1.0)


def add_optimization_flags(parser, **defaults):
    """Optimizer, schedule, batch, loss-scale, clipping and EMA flags, shared by train.py and train_diffusion.py.
    `defaults` overrides OPTIMIZATION_DEFAULTS (e.g. the VAE's Adam with betas 0.5 0.9)."""
    d = {**OPTIMIZATION_DEFAULTS, **defaults}
    parser.add_argument("--optim", default=d["optim"], choices=["adamw", "adam"],
                        help="adamw: decoupled weight decay (torch AdamW); adam: decay added to the gradient")
    parser.add_argument("--betas", type=float, nargs=2, default=list(d["betas"]), help="Adam(W) beta1 beta2")
    parser.add_argument("--optim_eps", type=float, default=1e-8, help="Adam(W) epsilon")
    parser.add_argument("--weight_decay", type=float, default=d["weight_decay"], help="weight decay")
    parser.add_argument("--scheduler", default=d["scheduler"], choices=["constant", "cosine_decay"],
                        help="learning-rate schedule after the warm-up")
    parser.add_argument("--end_learning_rate", type=float, default=d["end_learning_rate"],
                        help="cosine_decay's final learning rate")
    parser.add_argument("--warmup_steps", type=int, default=0, help="linear warm-up steps (any scheduler)")
    parser.add_argument("--batch_size", type=positive_int, default=d["batch_size"], help="clips per step and rank")
    parser.add_argument("--gradient_accumulation_steps", type=positive_int, default=1,
                        help="micro-batches summed into one optimizer step")
    parser.add_argument("--epochs", type=positive_int, default=d["epochs"],
                        help="passes over the data (see --train_steps)")
    parser.add_argument("--train_steps", type=non_negative_int, default=0,
                        help="optimizer steps to run (overrides --epochs when > 0)")
    parser.add_argument("--init_loss_scale", type=float, default=d["init_loss_scale"],
                        help="fp16: initial dynamic loss scale")
    parser.add_argument("--loss_scale_factor", type=float, default=2.0,
                        help="fp16: the loss scale is divided by this on overflow, multiplied after --scale_window")
    parser.add_argument("--scale_window", type=int, default=2000,
                        help="fp16: overflow-free steps before the loss scale grows")
    add_bool_flag(parser, "--clip_grad", False, "clip the gradient global norm (each optimizer's) to --max_grad_norm")
    parser.add_argument("--max_grad_norm", type=float, default=1.0, help="gradient clipping threshold")
    add_bool_flag(parser, "--use_ema", False, "keep an exponential moving average of the weights (in train_state)")
    parser.add_argument("--ema_decay", type=float, default=0.9999, help="EMA decay per optimizer step")


def load_yaml_config(path, valid_keys):
    """Read a YAML of flag values; an unknown key is an error naming the file and the key."""
    if not os.path.isfile(path):
        raise UserError(f"--config {path}: file not found")
    try:
        with open(path) as f:
            cfg = yaml.safe_load(f) or {}
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0]
        raise UserError(f"--config {path}: not valid YAML ({first})") from err
    if not isinstance(cfg, dict):
        raise UserError(f"--config {path}: expected a mapping of flag names to values")
    for key in cfg:
        if key not in valid_keys:
            hint = _closest(key, valid_keys)
            raise UserError(f"{path}: unknown key '{key}'" + (f" (did you mean '{hint}'?)" if hint else ""))
    return cfg


def _closest(key, candidates):
    import difflib

    match = difflib.get_close_matches(key, list(candidates), n=1)
    return match[0] if match else None


def parse_args(parser, argv=None):
    """Parse `argv` with YAML defaults from `--config`; explicit CLI flags win over the YAML. A YAML value goes
    through its flag's type, range and choices as a typed one would; any bad value is a one-line UserError."""
    parser.error = _one_line_error  # not argparse's usage block
    pre, _ = parser.parse_known_args(argv)
    if getattr(pre, "config", ""):
        valid = {a.dest for a in parser._actions if a.dest != "help"}
        cfg = load_yaml_config(pre.config, valid)
        parser.set_defaults(**typed_config_values(parser, cfg, pre.config))
    return parser.parse_args(argv)


def _one_line_error(message):
    raise UserError(message)


def typed_config_values(parser, cfg, source):
    """YAML values as the flags' types make them (argparse types only what it parses from strings): 5.5 for an
    integer flag, a list for a single value, a number outside a flag's range or choices -> UserError."""
    actions = {a.dest: a for a in parser._actions}
    typed = {}
    for key, value in cfg.items():
        action = actions[key]
        flag = action.option_strings[0] if action.option_strings else key
        many = action.nargs in ("+", "*") or (isinstance(action.nargs, int) and action.nargs > 1)
        if value is None or (action.type is None and action.choices is None and not many):
            typed[key] = value
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        if not many and isinstance(value, (list, tuple)):
            raise UserError(f"{source}: {key}: {flag} takes one value, got the list {value!r}")
        if isinstance(action.nargs, int) and action.nargs > 1 and len(items) != action.nargs:
            raise UserError(f"{source}: {key}: {flag} takes {action.nargs} values, got {value!r}")
        converted = []
        for item in items:
            if isinstance(item, (dict, list, tuple)):
                raise UserError(f"{source}: {key}: {flag} takes plain values, got {item!r}")
            if action.type is not None:
                if isinstance(item, bool) and action.type is not str2bool:
                    raise UserError(f"{source}: {key}: {flag} takes a value, not {item!r}")
                if isinstance(item, float) and action.type in (int, positive_int, non_negative_int, seed_int):
                    raise UserError(f"{source}: {key}: {flag} takes an integer, got {item!r}")
                try:
                    item = action.type(item if isinstance(item, (bool, int, float)) else str(item))
                except (argparse.ArgumentTypeError, TypeError, ValueError) as err:
                    raise UserError(f"{source}: {key}: {flag} {err}") from err
            elif not isinstance(item, str):
                item = str(item)  # a path or prompt written as a number
            if action.choices is not None and item not in action.choices:
                raise UserError(f"{source}: {key}: {flag} must be one of {', '.join(map(str, action.choices))}, "
                                f"got {item!r}")
            converted.append(item)
        typed[key] = converted if many else converted[0]
    return typed


def config_beside(src, given, default, flag="--model_config"):
    """A converter's architecture file: `given`, else the config.json next to the weights `src`, else `default`;
    a named file that does not exist is an error, not a silent fallback."""
    path = given or os.path.join(os.path.dirname(src), "config.json")
    if not given and not os.path.isfile(path):
        path = default
    if not os.path.isfile(path):
        raise UserError(f"{flag} {path}: file not found")
    return path


def given_on_command_line(argv, flag):
    """Whether `flag` was typed (`--flag value` or `--flag=value`), not taken from its default or a YAML."""
    return any(a == flag or a.startswith(flag + "=") for a in argv or ())


def save_config(args, output_dir, name=CONFIG_FILE_NAME):
    """Write the resolved settings as YAML next to the outputs; returns the path."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, name)
    values = {k: v for k, v in sorted(vars(args).items())}
    with open(path, "w") as f:
        yaml.safe_dump(values, f, sort_keys=False)
    return path
