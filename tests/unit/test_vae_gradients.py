"""The causal VAE's gradients (what train.py follows) equal finite differences of its loss, layer by layer.

The forward parity tests cannot see a wrong backward rule (ops.pad and StridedSlice gradients have been wrong
on this backend before, docs/performance.md); this checks the backward of every kind of layer directly, on the
demo config (its GroupNorms have 8 groups, the `norm_num_groups` key).
"""

import os

import mindspore as ms
import numpy as np
from conftest import REPO

from opensora.models.ae import CausalVAEModel

LAYERS = ["encoder.conv_in.conv.weight", "encoder.down.0.block.0.conv1.conv.weight",
          "encoder.down.0.block.0.norm1.gamma", "encoder.down.0.downsample.conv.conv.weight",
          "encoder.down.1.block.0.conv2.conv.bias", "encoder.mid.attn_1.v.conv.weight", "encoder.conv_out.conv.weight",
          "quant_conv.conv.weight", "post_quant_conv.conv.weight", "decoder.mid.attn_1.q.conv.weight",
          "decoder.up.3.block.0.conv1.conv.weight", "decoder.up.2.upsample.conv.conv.weight",
          "decoder.up.0.block.0.norm2.beta", "decoder.norm_out.gamma", "decoder.conv_out.conv.weight"]


def test_vae_gradients_equal_finite_differences():
    ms.set_seed(0)
    vae = CausalVAEModel.from_config_file(
        os.path.join(REPO, "examples", "toy_world", "configs", "causal_vae_demo.json")
    )
    vae.set_train(True)
    rng = np.random.default_rng(0)
    x = ms.Tensor(rng.uniform(-1, 1, (1, 3, 5, 32, 32)).astype(np.float32))
    target = ms.Tensor(rng.uniform(-1, 1, (1, 3, 5, 32, 32)).astype(np.float32))

    def loss_fn(x):
        return ((vae.decode(vae.encode(x).mean) - target) ** 2).mean()

    params = {p.name: p for p in vae.trainable_params()}
    chosen = [params[n] for n in LAYERS]
    grads = ms.grad(loss_fn, None, chosen)(x)
    for p, g in zip(chosen, grads):
        g = g.asnumpy()
        w = p.asnumpy().copy()
        idx = np.unravel_index(np.argmax(np.abs(g)), g.shape)  # the element that matters most
        eps = 1e-2 * max(abs(float(w[idx])), 1e-2)
        losses = []
        for sign in (1, -1):
            shifted = w.copy()
            shifted[idx] += sign * eps
            p.set_data(ms.Tensor(shifted))
            losses.append(float(loss_fn(x).asnumpy()))
        p.set_data(ms.Tensor(w))
        finite_difference = (losses[0] - losses[1]) / (2 * eps)
        assert abs(g[idx] - finite_difference) <= 0.02 * abs(finite_difference) + 1e-6, (
            p.name,
            g[idx],
            finite_difference,
        )
