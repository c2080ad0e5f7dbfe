"""The demo model's stage-6 loss weighting (docs/demo_model.md): an x0-space MSE at high noise.

At high noise the eps error is SNR_t times the error of the x0 it implies, so the layout a model decides there
barely moves the plain loss; min(max(1/SNR_t, 1), cap) weights those steps as an x0 loss would, capped. The core
loss takes any per-timestep table (IDDPMLoss(mse_weight=...)); this is the toy world's."""

import numpy as np


def x0_capped_weights(alphas_cumprod, cap):
    """Per-step MSE weights (float32, one per t): ones for cap 0 (the original), else min(max(1/SNR_t, 1), cap)."""
    if cap < 0 or 0 < cap < 1:
        raise ValueError(f"x0_weight_cap must be 0 (off) or >= 1, got {cap}")
    if not cap:
        return np.ones(len(alphas_cumprod), np.float32)
    inverse_snr = (1.0 - alphas_cumprod) / alphas_cumprod
    return np.clip(inverse_snr, 1.0, cap).astype(np.float32)
