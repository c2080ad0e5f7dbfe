"""OpenSoraT2V_v1_3: config keys, strict loading, shapes, Skiparse grouping, masks, fp16, recompute."""

import dataclasses
import json

import mindspore as ms
import numpy as np
import pytest

from opensora.backend import kernel_choices, use_kernels
from opensora.io import net_state, save_state
from opensora.models.diffusion.opensora_v1_3 import OpenSoraT2V_v1_3
from opensora.models.diffusion.opensora_v1_3.modules import (
    SPARSE_PAD_BIAS,
    Attention,
    RoPE3D,
    reverse_sparse_1d,
    sparse_1d,
    sparse_masks,
)
from opensora.utils.amp import apply_precision
from opensora.utils.errors import UserError

TINY = dict(num_layers=4, attention_head_dim=12, num_attention_heads=2, patch_size_t=1, patch_size=2, in_channels=4,
            out_channels=4, caption_channels=16, cross_attention_dim=24, activation_fn="gelu-approximate",
            sparse1d=True, sparse_n=4)
RELEASED_KEYS = dict(_class_name="OpenSoraT2V_v1_3", _diffusers_version="0.30.2", attention_bias=True,
                     double_self_attention=False, dropout=0.0, interpolation_scale_h=1.0, interpolation_scale_t=1.0,
                     interpolation_scale_w=1.0, norm_elementwise_affine=False, norm_eps=1e-06,
                     only_cross_attention=False, sample_size_h=[80, 80], sample_size_t=24, sample_size_w=[80, 80],
                     upcast_attention=False)


def tiny_inputs(b=2, t=3, h=6, w=8, length=5, seed=0):
    rng = np.random.default_rng(seed)
    x = ms.Tensor(rng.standard_normal((b, 4, t, h, w)).astype(np.float32))
    timestep = ms.Tensor(np.array([10, 700][:b], np.int64))
    context = ms.Tensor(rng.standard_normal((b, 1, length, 16)).astype(np.float32))
    mask = np.ones((b, t, h, w), np.int64)
    mask[0, -1] = 0  # one padded frame
    text_mask = np.ones((b, 1, length), np.int64)
    text_mask[0, 0, 3:] = 0
    return x, timestep, context, ms.Tensor(mask), ms.Tensor(text_mask)


@pytest.fixture(scope="module")
def tiny_model():
    ms.set_seed(0)
    return OpenSoraT2V_v1_3(TINY)


# ----------------------------------------------------------------------------- config
def test_released_config_keys_are_accepted(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TINY, **RELEASED_KEYS}))
    model = OpenSoraT2V_v1_3.from_pretrained(str(path))
    assert model.config["sparse_n"] == 4 and model.config["sample_size_h"] == [80, 80]


def test_unknown_config_key_names_the_file_and_key(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TINY, "num_layer": 2}))
    with pytest.raises(UserError, match=f"{path}: unknown OpenSoraT2V_v1_3 config key 'num_layer'"):
        OpenSoraT2V_v1_3.from_pretrained(str(path))


@pytest.mark.parametrize("change, message", [
    ({"_class_name": "OpenSoraInpaint_v1_3"}, "_class_name 'OpenSoraInpaint_v1_3' is not OpenSoraT2V_v1_3"),
    ({"activation_fn": "swish"}, "activation_fn 'swish' is not supported"),
    ({"patch_size_t": 2}, "patch_size_t=2 is not supported"),
    ({"in_channels": None}, "needs in_channels"),
])
def test_unsupported_configs_are_refused(change, message):
    with pytest.raises(UserError, match=message):
        OpenSoraT2V_v1_3({**TINY, **change})


def test_folder_without_weights_is_an_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(TINY))
    with pytest.raises(UserError, match="no weights found"):
        OpenSoraT2V_v1_3.from_pretrained(str(tmp_path))


# ----------------------------------------------------------------------------- strict loading
def test_folder_round_trip_and_strict_load_errors(tmp_path, tiny_model):
    state = net_state(tiny_model)
    (tmp_path / "config.json").write_text(json.dumps(TINY))
    save_state(state, str(tmp_path / "model.ckpt"))
    loaded = OpenSoraT2V_v1_3.from_pretrained(str(tmp_path))
    for name, value in net_state(loaded).items():
        np.testing.assert_array_equal(value, state[name])
    cut = dict(state)
    del cut["proj_out.bias"]
    with pytest.raises(UserError, match="1 missing keys: proj_out.bias"):
        loaded.load_checkpoint(save_state(cut, str(tmp_path / "cut.ckpt")))
    extra = {**state, "transformer_blocks.9.ff.net.2.bias": np.zeros(24, np.float32)}
    with pytest.raises(UserError, match="1 unexpected keys: transformer_blocks.9.ff.net.2.bias"):
        loaded.load_checkpoint(save_state(extra, str(tmp_path / "extra.ckpt")))
    bad = {**state, "scale_shift_table": np.zeros((3, 24), np.float32)}
    with pytest.raises(UserError, match=r"scale_shift_table: checkpoint \(3, 24\) vs model \(2, 24\)"):
        loaded.load_checkpoint(save_state(bad, str(tmp_path / "bad.ckpt")))


def test_affine_norms_load_torch_names(tmp_path):
    """norm_elementwise_affine=True: torch's norm1.weight / bias load into gamma / beta."""
    model = OpenSoraT2V_v1_3({**TINY, "norm_elementwise_affine": True})
    state = {n.replace(".gamma", ".weight").replace(".beta", ".bias"): v for n, v in net_state(model).items()}
    assert "transformer_blocks.0.norm1.weight" in state and "transformer_blocks.0.norm2.bias" in state
    state["transformer_blocks.0.norm1.weight"] = np.full(24, 2.0, np.float32)
    model.load_checkpoint(save_state(state, str(tmp_path / "affine.ckpt")))
    assert (model.transformer_blocks[0].norm1.gamma.asnumpy() == 2.0).all()


# ----------------------------------------------------------------------------- shapes and behaviour
def test_output_shape_and_caption_shape_check(tiny_model):
    x, t, c, m, tm = tiny_inputs()
    assert tiny_model(x, t, c, m, tm).shape == (2, 4, 3, 6, 8)
    with pytest.raises(ValueError, match=r"must be \(B, 1, L, C\)"):
        tiny_model(x, t, ms.Tensor(np.zeros((2, 2, 5, 16), np.float32)), m, tm)
    with pytest.raises(ValueError, match=r"encoder_attention_mask must be \(B, 1, L\)"):
        tiny_model(x, t, c, m, tm[:, 0])


def test_no_masks_equal_all_ones_masks(tiny_model):
    x, t, c, m, tm = tiny_inputs()
    ones = tiny_model(x, t, c, ms.Tensor(np.ones(m.shape, np.int64)), ms.Tensor(np.ones(tm.shape, np.int64)))
    np.testing.assert_array_equal(tiny_model(x, t, c).asnumpy(), ones.asnumpy())


def test_masks_change_the_output(tiny_model):
    x, t, c, m, tm = tiny_inputs()
    assert np.abs(tiny_model(x, t, c, m, tm).asnumpy() - tiny_model(x, t, c).asnumpy()).max() > 1e-3


def test_configs_the_original_cannot_run_are_refused():
    """Refused when the config is read (before: at the first forward, which in a compiled train step is a
    graph-compiler traceback)."""
    x, t, c, m, tm = tiny_inputs()
    with pytest.raises(UserError, match="sparse_n=2: the original builds attention masks for sparse_n 1 and 4 only"):
        OpenSoraT2V_v1_3({**TINY, "sparse_n": 2})
    with pytest.raises(UserError, match="sparse1d=False with sparse_n=4"):
        OpenSoraT2V_v1_3({**TINY, "sparse1d": False})
    OpenSoraT2V_v1_3({**TINY, "sparse1d": False, "sparse_n": 2, "num_layers": 2})(x, t, c, m, tm)  # dense only


def test_sparse_layers_alternate_as_upstream():
    model = OpenSoraT2V_v1_3({**TINY, "num_layers": 32}, attention_head_dim=6, num_attention_heads=1,
                             cross_attention_dim=6)
    kinds = [(b.attn1.sparse1d, b.attn1.sparse_group, b.attn2.sparse1d) for b in model.transformer_blocks]
    assert kinds == [(2 <= i < 30, i % 2 == 1, 2 <= i < 30) for i in range(32)]


def test_fp16_runs_close_to_fp32():
    ms.set_seed(0)
    model = OpenSoraT2V_v1_3(TINY)
    x, t, c, m, tm = tiny_inputs()
    ref = model(x, t, c, m, tm).asnumpy()
    apply_precision(model, ms.float16)
    out = model(x, t, c, m, tm)
    assert out.dtype == ms.float16
    out = out.asnumpy().astype(np.float32)
    assert np.isfinite(out).all() and np.abs(out - ref).max() < 2e-2 * max(1.0, np.abs(ref).max())


def test_recompute_keeps_the_output():
    ms.set_seed(0)
    model = OpenSoraT2V_v1_3(TINY)
    x, t, c, m, tm = tiny_inputs()
    ref = model(x, t, c, m, tm).asnumpy()
    model.enable_gradient_checkpointing()
    model.set_train(True)
    np.testing.assert_array_equal(model(x, t, c, m, tm).asnumpy(), ref)


def test_plain_kernel_forms_match(tiny_model):
    """The fused GELU and broadcasting multiplies of other backends (opensora.backend) compute the same."""
    x, t, c, m, tm = tiny_inputs()
    ref = tiny_model(x, t, c, m, tm).asnumpy()
    ms.set_seed(0)
    plain = dataclasses.replace(kernel_choices("CPU"), gelu_as_sigmoid=False, tile_before_multiply=False)
    model = OpenSoraT2V_v1_3(TINY, kernels=plain)
    ms_state = net_state(tiny_model)
    for name, p in model.parameters_and_names():
        p.set_data(ms.Tensor(ms_state[name]))
    assert not model.tile and not model.transformer_blocks[0].ff.net[0].gelu_as_sigmoid
    np.testing.assert_allclose(model(x, t, c, m, tm).asnumpy(), ref, rtol=1e-3, atol=1e-4)
    use_kernels(model, kernel_choices("CPU"))
    np.testing.assert_allclose(model(x, t, c, m, tm).asnumpy(), ref, rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- Skiparse grouping
def _upstream_sparse_1d(x_sbd, n, group):
    """The original's rearranges on a sequence-first (S, B, D) numpy array, written as einops spells them."""
    s, b, d = x_sbd.shape
    pad = (-s) % (n * n)
    x = np.concatenate([x_sbd, np.zeros((pad, b, d), x_sbd.dtype)])
    if not group:  # '(g k) b d -> g (k b) d'
        return x.reshape(-1, n, b, d).reshape(-1, n * b, d)
    # '(n m k) b d -> (n k) (m b) d'
    return x.reshape(-1, n, n, b, d).transpose(0, 2, 1, 3, 4).reshape(-1, n * b, d)


@pytest.mark.parametrize("group", [False, True])
@pytest.mark.parametrize("length", [32, 37, 1])
@pytest.mark.parametrize("n", [1, 2, 4])
def test_sparse_grouping_round_trip_and_layout(group, length, n):
    x = np.random.default_rng(0).standard_normal((3, length, 5)).astype(np.float32)  # (B, S, D)
    grouped = sparse_1d(ms.Tensor(x), n, group)
    ref = _upstream_sparse_1d(x.transpose(1, 0, 2), n, group)  # (S'/n, n*B, D)
    np.testing.assert_array_equal(grouped.asnumpy(), ref.transpose(1, 0, 2))
    np.testing.assert_array_equal(reverse_sparse_1d(grouped, n, group, length).asnumpy(), x)


@pytest.mark.parametrize("group", [False, True])
def test_sparse_masks_as_prepare_sparse_mask(group):
    n, b, s, length = 4, 2, 37, 6
    rng = np.random.default_rng(1)
    bias = ((rng.random((b, 1, s)) > 0.3) - 1.0).astype(np.float32) * 10000.0
    text = ((rng.random((b, 1, length)) > 0.3) - 1.0).astype(np.float32) * 10000.0
    grouped, text_grouped = sparse_masks(ms.Tensor(bias), ms.Tensor(text), n, group)
    padded = np.concatenate([bias, np.full((b, 1, (-s) % 16), SPARSE_PAD_BIAS, np.float32)], axis=-1)
    if not group:  # 'b 1 1 (g k) -> (k b) 1 1 g'
        ref = padded.reshape(b, 1, -1, n).transpose(3, 0, 1, 2).reshape(n * b, 1, -1)
    else:  # 'b 1 1 (n m k) -> (m b) 1 1 (n k)'
        ref = padded.reshape(b, 1, -1, n, n).transpose(3, 0, 1, 2, 4).reshape(n * b, 1, -1)
    np.testing.assert_array_equal(grouped.asnumpy(), ref)
    np.testing.assert_array_equal(text_grouped.asnumpy(), np.tile(text, (n, 1, 1)))  # torch .repeat(n, 1, 1, 1)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _upstream_attention(attn, x, context, bias, rope, is_cross, n, group):
    """OpenSoraAttnProcessor2_0.__call__ in float64 numpy, sequence-first as upstream."""
    w = {k: v.astype(np.float64) for k, v in net_state(attn).items()}
    heads = attn.heads
    x = x.transpose(1, 0, 2).astype(np.float64)  # (S, B, D)
    ctx = x if context is None else context.transpose(1, 0, 2).astype(np.float64)
    q, k, v = (t @ w[f"to_{c}.weight"].T + w[f"to_{c}.bias"] for t, c in ((x, "q"), (ctx, "k"), (ctx, "v")))
    s, b, _ = q.shape
    if not is_cross:
        cos, sin = (np.concatenate([t.asnumpy()[0] for t in tabs], -1).astype(np.float64).reshape(s, 1, 1, -1)
                    for tabs in rope)  # (S, 1, 1, d): the t, h, w tables side by side

        def rot(t):
            t = t.reshape(s, b, heads, -1)
            parts = np.split(t, 3, axis=-1)
            half = parts[0].shape[-1] // 2
            rh = np.concatenate([np.concatenate([-p[..., half:], p[..., :half]], -1) for p in parts], -1)
            return (t * cos + rh * sin).reshape(s, b, -1)

        q, k = rot(q), rot(k)
    if n > 1:
        q = _upstream_sparse_1d(q, n, group)
        k, v = ((np.tile(t, (1, n, 1)) for t in (k, v)) if is_cross else
                (_upstream_sparse_1d(t, n, group) for t in (k, v)))
    qh, kh, vh = (t.reshape(t.shape[0], t.shape[1], heads, -1).transpose(1, 2, 0, 3) for t in (q, k, v))
    scores = qh @ kh.swapaxes(-1, -2) / np.sqrt(qh.shape[-1]) + bias.astype(np.float64)[:, None]
    out = (_softmax(scores) @ vh).transpose(2, 0, 1, 3).reshape(qh.shape[2], -1, heads * qh.shape[-1])
    if n > 1:  # reverse: 'g (k b) d -> (g k) b d' / '(n k) (m b) d -> (n m k) b d'
        out = out.reshape(-1, n, b, out.shape[-1]) if not group else \
            out.reshape(-1, n, n, b, out.shape[-1]).transpose(0, 2, 1, 3, 4)
        out = out.reshape(-1, b, out.shape[-1])[:s]
    out = out @ w["to_out.0.weight"].T + w["to_out.0.bias"]
    return out.transpose(1, 0, 2)


@pytest.mark.parametrize("is_cross", [False, True])
@pytest.mark.parametrize("n, group", [(1, False), (4, False), (4, True), (2, True)])
def test_attention_equals_the_sequence_first_original(is_cross, n, group):
    """Batch-first Skiparse attention (with padding: 2*3*3 = 18 tokens) == upstream's (S, B, D) formulation."""
    ms.set_seed(3)
    rng = np.random.default_rng(2)
    attn = Attention(24, 2, 12, cross_attention_dim=16 if is_cross else None, bias=True, sparse1d=n > 1,
                     sparse_n=n, sparse_group=group, is_cross_attn=is_cross)
    for _, p in attn.parameters_and_names():
        p.set_data(ms.Tensor(rng.standard_normal(p.shape).astype(np.float32) * 0.3))
    x = rng.standard_normal((2, 18, 24)).astype(np.float32)
    context = rng.standard_normal((2, 5, 16)).astype(np.float32) if is_cross else None
    rope = RoPE3D(12, (1.0, 2.0, 1.0))(2, 3, 3, ms.float32)
    keep = rng.random((2, 1, 5 if is_cross else 18)) > 0.3
    bias = ms.Tensor((1 - keep.astype(np.float32)) * -10000.0)
    text = bias if is_cross else ms.Tensor(np.zeros((2, 1, 5), np.float32))
    if n > 1:
        grouped, grouped_text = sparse_masks(bias, text, n, group)
        bias = grouped_text if is_cross else grouped
    out = attn(ms.Tensor(x), None if context is None else ms.Tensor(context), bias, rope).asnumpy()
    ref = _upstream_attention(attn, x, context, bias.asnumpy(), rope, is_cross, n, group)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_rope_tables_follow_position_getter_order():
    """Token (t, h, w) row-major gets angle pos / interpolation scale * inv_freq on each axis' third."""
    (cos_t, cos_h, cos_w), _ = RoPE3D(12, (2.0, 1.0, 0.5))(2, 3, 4, ms.float32)
    inv = 1.0 / 10000.0 ** (np.arange(0, 4, 2) / 4)
    grid = np.stack(np.meshgrid(np.arange(2), np.arange(3), np.arange(4), indexing="ij"), -1).reshape(-1, 3)
    for table, axis, scale in ((cos_t, 0, 2.0), (cos_h, 1, 1.0), (cos_w, 2, 0.5)):
        angles = (grid[:, axis] / scale)[:, None] * inv[None]
        np.testing.assert_allclose(table.asnumpy()[0, :, 0], np.cos(np.concatenate([angles, angles], -1)),
                                   atol=1e-6)
