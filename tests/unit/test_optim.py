"""AdamW = torch.optim.AdamW (bias-corrected, decoupled decay), checked against the written-out update rule;
learning-rate schedules."""

import math

import numpy as np
import pytest
from mindspore import Parameter, Tensor

from opensora.train.lr_schedule import learning_rate
from opensora.train.optim import AdamW


def torch_adamw_reference(w, grads, lr, betas, eps, wd):
    """torch.optim.AdamW's algorithm in float64."""
    w, m, v = w.astype(np.float64), np.zeros_like(w, np.float64), np.zeros_like(w, np.float64)
    for t, g in enumerate(grads, 1):
        w = w * (1 - lr * wd)
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        denom = np.sqrt(v) / math.sqrt(1 - betas[1] ** t) + eps
        w = w - lr / (1 - betas[0] ** t) * m / denom
    return w


@pytest.mark.parametrize("betas,wd", [((0.9, 0.999), 1e-2), ((0.5, 0.9), 0.0)])
def test_adamw_matches_torch_rule(betas, wd):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((8, 5)).astype(np.float32)
    grads = [rng.standard_normal((8, 5)).astype(np.float32) * (k + 1) for k in range(5)]
    param = Parameter(Tensor(w0.copy()), name="w")
    opt = AdamW([param], lr=1e-2, betas=betas, eps=1e-8, weight_decay=wd)
    for g in grads:
        opt([Tensor(g)])
    np.testing.assert_allclose(param.asnumpy(), torch_adamw_reference(w0, grads, 1e-2, betas, 1e-8, wd), atol=2e-6)
    assert opt.step_count == 5
    state = {k: (v.asnumpy() if hasattr(v, "asnumpy") else v) for k, v in opt.state().items()}
    fresh = AdamW([Parameter(Tensor(w0.copy()), name="w")], lr=1e-2, betas=betas, weight_decay=wd)
    fresh.load_state(state)
    assert fresh.step_count == 5 and np.array_equal(fresh.exp_avg[0].asnumpy(), opt.exp_avg[0].asnumpy())


def test_lr_schedules():
    assert learning_rate(0, "constant", 1e-3, warmup_steps=4) == pytest.approx(2.5e-4)
    assert learning_rate(10, "constant", 1e-3, warmup_steps=4) == 1e-3
    assert learning_rate(0, "cosine_decay", 1e-3, 1e-5, total_steps=100) == pytest.approx(1e-3)
    assert learning_rate(100, "cosine_decay", 1e-3, 1e-5, total_steps=100) == pytest.approx(1e-5)
    assert learning_rate(50, "cosine_decay", 1e-3, 1e-5, total_steps=100) == pytest.approx((1e-3 + 1e-5) / 2)
    with pytest.raises(ValueError):
        learning_rate(0, "linear", 1e-3)


def test_adam_coupled_weight_decay_matches_torch_adam():
    """--optim adam with --weight_decay: torch.optim.Adam adds wd * w to the gradient (no decoupled decay)."""
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((6, 4)).astype(np.float32)
    grads = [rng.standard_normal((6, 4)).astype(np.float32) for _ in range(4)]
    lr, betas, eps, wd = 1e-2, (0.5, 0.9), 1e-8, 0.1
    w, m, v = w0.astype(np.float64), np.zeros((6, 4)), np.zeros((6, 4))
    for t, g in enumerate(grads, 1):
        g = g + wd * w
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        w = w - lr / (1 - betas[0] ** t) * m / (np.sqrt(v) / math.sqrt(1 - betas[1] ** t) + eps)
    param = Parameter(Tensor(w0), name="w")
    opt = AdamW([param], lr, betas, eps, weight_decay=0.0, l2_weight_decay=wd)
    for g in grads:
        opt([Tensor(g)])
    np.testing.assert_allclose(param.asnumpy(), w, rtol=1e-5, atol=1e-6)
