"""Training checkpoints: one folder per save, written under a temporary name and renamed (atomic), the last K
kept. `model.ckpt` alone is loadable as pretrained weights; `train_state.ckpt` + `train_state.json` hold the
optimizer, EMA, loss scale, step and RNG state for an exact --resume."""

import json
import os
import shutil

from ..io import read_state_dict, save_state
from ..utils.errors import UserError

PREFIX = "step_"


def save_training_state(ckpt_dir, step, model_state, train_tensors, meta, keep=10):
    os.makedirs(ckpt_dir, exist_ok=True)
    final = os.path.join(ckpt_dir, f"{PREFIX}{step:08d}")
    tmp = os.path.join(ckpt_dir, f".tmp_{PREFIX}{step:08d}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        os.makedirs(tmp)
        save_state(model_state, os.path.join(tmp, "model.ckpt"))
        save_state(train_tensors, os.path.join(tmp, "train_state.ckpt"))
        with open(os.path.join(tmp, "train_state.json"), "w") as f:
            json.dump({**meta, "step": step}, f)
    except (OSError, RuntimeError) as err:  # e.g. disk full: drop the partial folder, keep every finished one
        shutil.rmtree(tmp, ignore_errors=True)
        previous = list_checkpoints(ckpt_dir)
        raise UserError(
            f"{ckpt_dir}: cannot write the step {step} checkpoint ({err}); "
            f"{'the previous checkpoint ' + previous[-1] + ' is intact' if previous else 'no earlier checkpoint'}"
            "; free disk space and --resume True"
        ) from err
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)  # the checkpoint exists whole or not at all
    for old in list_checkpoints(ckpt_dir)[:-keep] if keep else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(ckpt_dir):
    if not os.path.isdir(ckpt_dir):
        return []
    names = sorted(n for n in os.listdir(ckpt_dir) if n.startswith(PREFIX))
    return [os.path.join(ckpt_dir, n) for n in names if os.path.isfile(os.path.join(ckpt_dir, n, "train_state.json"))]


REQUIRED_META = ("step",)


def load_training_state(folder):
    """(model tensors, train tensors, meta) of one checkpoint folder; anything unreadable is a UserError naming the
    file (a damaged train_state.json, a truncated .ckpt)."""
    path = os.path.join(folder, "train_state.json")
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: damaged training state ({str(err).splitlines()[0][:120]})") from err
    if not isinstance(meta, dict) or any(key not in meta for key in REQUIRED_META):
        raise UserError(f"{path}: damaged training state (no {', '.join(REQUIRED_META)})")
    return (
        read_state_dict(os.path.join(folder, "model.ckpt")),
        read_state_dict(os.path.join(folder, "train_state.ckpt")),
        meta,
    )


def load_resume_state(resume, ckpt_dir, logger):
    """--resume: (folder, model tensors, train tensors, meta). `--resume True` takes the newest checkpoint that
    reads whole, saying which damaged ones it passed over; an explicit folder must read whole."""
    if str(resume).lower() not in ("true", "1", "yes"):
        if not os.path.isfile(os.path.join(resume, "train_state.json")):
            raise UserError(f"--resume {resume}: not a training checkpoint folder (needs train_state.json)")
        return (resume, *load_training_state(resume))
    candidates = list_checkpoints(ckpt_dir)
    if not candidates:
        raise UserError(f"--resume: no checkpoint in {ckpt_dir} (nothing to resume)")
    for folder in reversed(candidates):
        try:
            return (folder, *load_training_state(folder))
        except UserError as err:
            logger.warning(f"--resume: skipping {folder}: {err}")
    raise UserError(f"--resume: every checkpoint in {ckpt_dir} is damaged (see the warnings); start a new run")
