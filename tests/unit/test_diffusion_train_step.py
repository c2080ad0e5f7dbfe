"""The compiled Latte train step (train_diffusion.py --jit, the default) gives PyNative's gradients."""

import json

import mindspore as ms
import numpy as np
from conftest import fixture_path

from opensora.diffusion import create_diffusion
from opensora.diffusion.training_loss import IDDPMLoss
from opensora.models.diffusion.latte import LatteT2V
from opensora.train.trainer import GraphGradStep


def test_graph_step_gradients_equal_pynative():
    with open(fixture_path("latte_tiny", "config.json")) as f:
        cfg = json.load(f)
    ms.set_seed(0)
    latte = LatteT2V(cfg)
    latte.set_train(True)
    loss_cell = IDDPMLoss(latte, create_diffusion(""))
    params = latte.trainable_params()
    rng = np.random.default_rng(0)
    b, hw = 2, cfg["sample_size"]
    x = ms.Tensor(rng.standard_normal((b, 4, cfg["video_length"], *hw)).astype(np.float32))
    noise = ms.Tensor(rng.standard_normal(x.shape).astype(np.float32))
    t = ms.Tensor(np.array([0, 517], np.int32))  # the t=0 decoder NLL and a KL step
    text = ms.Tensor(rng.standard_normal((b, 6, cfg["caption_channels"])).astype(np.float32))
    mask = ms.Tensor(np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], np.int32))
    scale = ms.Tensor(4.0, ms.float32)

    def scaled(scale, *inputs):
        loss = loss_cell(*inputs)
        return loss * scale, loss

    (_, loss_ref), grads_ref = ms.value_and_grad(scaled, None, params, has_aux=True)(scale, x, t, noise, text, mask)
    compiled = GraphGradStep(loss_cell, params)
    for _ in range(2):  # a graph can go wrong from its second call on (see docs/performance.md)
        (_, loss), grads = compiled(scale, x, t, noise, text, mask)
        np.testing.assert_allclose(loss.asnumpy(), loss_ref.asnumpy(), rtol=1e-5)
        for p, g, r in zip(params, grads, grads_ref):
            g, r = g.asnumpy(), r.asnumpy()
            assert np.abs(g - r).max() <= 1e-4 * max(np.abs(r).max(), 1e-3), p.name
    assert any(np.abs(g.asnumpy()).max() > 0 for g in grads)


def test_timestep_range_narrows_the_drawn_steps():
    """--timestep_range LOW HIGH: t ~ U[LOW, HIGH); the default draws exactly what the original's U[0, 1000) did."""
    from opensora.train.diffusion_task import DiffusionTrainingTask

    with open(fixture_path("latte_tiny", "config.json")) as f:
        latte = LatteT2V(json.load(f))
    latents = np.zeros((64, 4, 2, 4, 4), np.float32)

    def drawn(task, seed=0):
        return task.draw(latents, [np.random.default_rng([seed, k]) for k in range(64)])[0]

    default = DiffusionTrainingTask(latte, None, create_diffusion(""))
    t = drawn(default)
    assert t.min() < 200 and t.max() > 800
    np.testing.assert_array_equal(t, [np.random.default_rng([0, k]).integers(0, 1000) for k in range(64)])
    narrowed = drawn(DiffusionTrainingTask(latte, None, create_diffusion(""), timestep_range=(500, 1000)))
    assert narrowed.min() >= 500 and narrowed.max() <= 999 and len(set(narrowed.tolist())) > 20
