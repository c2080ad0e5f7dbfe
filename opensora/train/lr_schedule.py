"""Per-step learning rates: constant (with optional linear warm-up) and cosine decay."""

import math


def learning_rate(step, scheduler, start_lr, end_lr=0.0, warmup_steps=0, total_steps=1):
    """LR for 0-based `step`."""
    if warmup_steps and step < warmup_steps:
        return start_lr * (step + 1) / warmup_steps
    if scheduler == "constant":
        return start_lr
    if scheduler == "cosine_decay":
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return end_lr + 0.5 * (start_lr - end_lr) * (1 + math.cos(math.pi * progress))
    raise ValueError(f"--scheduler {scheduler}: use constant or cosine_decay")
