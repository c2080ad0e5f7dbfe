"""Prompt lists, output file names and the two-stage latent files of infer_diffusion.py."""

import json
import os
import re

import numpy as np

from ..utils.errors import UserError

MAX_NAME_CHARS = 80
PROMPTS_FILE = "prompts.json"


def read_captions(captions):
    """`--captions` is a list of prompts or one .txt file (one prompt per line; blank lines skipped)."""
    if len(captions) == 1 and captions[0].endswith(".txt"):
        path = captions[0]
        if not os.path.isfile(path):
            raise UserError(f"--captions {path}: file not found")
        with open(path, encoding="utf-8") as f:
            captions = [line.strip() for line in f]
        captions = [c for c in captions if c]
        if not captions:
            raise UserError(f"--captions {path}: no prompts in the file")
        return captions
    captions = [c.strip() for c in captions]
    for i, c in enumerate(captions):
        if not c:
            raise UserError(f"--captions: prompt {i} is empty")
    if not captions:
        raise UserError("--captions: no prompts given")
    return captions


def safe_name(index, prompt):
    """`007-a red fox runs` : no path separators, '..', control characters; bounded length."""
    text = re.sub(r"[\x00-\x1f\x7f]", " ", prompt)
    text = re.sub(r"[^\w\-,. ]", "_", text, flags=re.UNICODE)
    text = re.sub(r"\.{2,}", ".", text)
    text = re.sub(r"\s+", " ", text).strip(" ._")
    return f"{index:03d}-{text[:MAX_NAME_CHARS].rstrip(' ._') or 'prompt'}"


def save_latents(out_dir, names, prompts, latents):
    """One `<name>.npy` (1, 4, T', h, w) per video plus prompts.json, for a later --decode_latents run."""
    os.makedirs(out_dir, exist_ok=True)
    for name, lat in zip(names, latents):
        tmp = os.path.join(out_dir, name + ".partial.npy")
        np.save(tmp, lat[None].astype(np.float32))
        os.replace(tmp, os.path.join(out_dir, name + ".npy"))
    index_path = os.path.join(out_dir, PROMPTS_FILE)
    index = json.load(open(index_path)) if os.path.isfile(index_path) else {}
    index.update(dict(zip(names, prompts)))
    with open(index_path, "w") as f:
        json.dump(index, f, indent=2, ensure_ascii=False)


def load_latents(in_dir):
    """[(name, latents (1, 4, T', h, w))] sorted by name, from a --save_latents run."""
    if not os.path.isdir(in_dir):
        raise UserError(f"--input_latents_dir {in_dir}: folder not found")
    files = sorted(f for f in os.listdir(in_dir) if f.endswith(".npy") and ".partial" not in f)
    if not files:
        raise UserError(f"--input_latents_dir {in_dir}: no .npy latents (write them with --save_latents)")
    out = []
    for f in files:
        arr = np.load(os.path.join(in_dir, f))
        if arr.ndim != 5 or arr.shape[1] != 4:
            raise UserError(f"{os.path.join(in_dir, f)}: expected latents (1, 4, T, h, w), got {arr.shape}")
        out.append((f[:-4], arr))
    return out
