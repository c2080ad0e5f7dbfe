"""T5 v1.1 encoder (transformers' T5EncoderModel, as Open-Sora-Plan uses DeepFloyd t5-v1_1-xxl) in MindSpore.

Parameter names equal the Hugging Face state dict (`shared.weight`, `encoder.block.0.layer.0.SelfAttention.q.weight`,
...). No biases; RMSNorm without mean subtraction; gated-GELU(tanh) FF; no 1/sqrt(d) score scaling; the
relative position bias is computed by block 0 and added in every block.
"""

import json
import math
import os

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import Normal, initializer
from mindspore.nn.utils import no_init_parameters

from ...backend import use_kernels
from ...io import map_names, read_state_dict
from ...utils.errors import UserError
from ..fast_ops import ElementwiseForms, gelu_tanh

# Weight files of a Hugging Face T5 folder, in order of preference (an index .json lists shards).
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# Keys an HF checkpoint may carry that the encoder does not use: the tied embedding copy, a full T5's decoder.
UNUSED_PREFIXES = ("encoder.embed_tokens.", "decoder.", "lm_head.")

FP32_MIN = float(np.finfo(np.float32).min)


def _param(shape, name):
    return Parameter(initializer(Normal(0.02), shape, ms.float32), name=name)


class T5LayerNorm(nn.Cell):
    """RMSNorm: x * rsqrt(mean(x^2) + eps) * w, in fp32 (cast back to the weight's dtype as HF does)."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = Parameter(initializer("ones", (dim,), ms.float32), name="weight")
        self.eps = eps

    def construct(self, x):
        h = x.astype(ms.float32)
        h = h * ops.rsqrt(ops.square(h).mean(axis=-1, keep_dims=True) + self.eps)
        return (self.weight * h).astype(x.dtype)  # fp32 inside (keep-list), the compute dtype outside


class _Linear(nn.Cell):
    """Bias-free projection with a torch-layout (out, in) `weight`."""

    def __init__(self, d_in, d_out):
        super().__init__()
        self.weight = _param((d_out, d_in), "weight")

    def construct(self, x):
        return ops.matmul(x, self.weight.T)


def relative_position_bucket(relative_position, num_buckets=32, max_distance=128):
    """Bidirectional T5 buckets (numpy; float32 log as torch computes it)."""
    num_buckets //= 2
    buckets = (relative_position > 0).astype(np.int64) * num_buckets
    n = np.abs(relative_position)
    max_exact = num_buckets // 2
    with np.errstate(divide="ignore"):
        scaled = np.log(n.astype(np.float32) / np.float32(max_exact)) / np.float32(math.log(max_distance / max_exact))
    large = max_exact + (scaled * np.float32(num_buckets - max_exact)).astype(np.float32)
    large = np.where(n < max_exact, 0, large).astype(np.int64)  # masked below; avoids casting -inf
    large = np.minimum(large, num_buckets - 1)
    return buckets + np.where(n < max_exact, n, large)


class T5Attention(nn.Cell):
    def __init__(self, cfg, has_relative_bias):
        super().__init__()
        self.heads, self.d_kv = cfg["num_heads"], cfg["d_kv"]
        inner = self.heads * self.d_kv
        self.q, self.k, self.v = (_Linear(cfg["d_model"], inner) for _ in range(3))
        self.o = _Linear(inner, cfg["d_model"])
        self.num_buckets = cfg["relative_attention_num_buckets"]
        self.max_distance = cfg["relative_attention_max_distance"]
        if has_relative_bias:
            self.relative_attention_bias = nn.Cell()
            self.relative_attention_bias.weight = _param((self.num_buckets, self.heads), "weight")

    def compute_bias(self, q_len, k_len):
        """(1, heads, q_len, k_len) position bias from block 0's table."""
        rel = np.arange(k_len)[None, :] - np.arange(q_len)[:, None]
        buckets = Tensor(relative_position_bucket(rel, self.num_buckets, self.max_distance).astype(np.int32))
        values = ops.gather(self.relative_attention_bias.weight, buckets.reshape(-1), 0)  # (q*k, heads)
        return values.reshape(q_len, k_len, self.heads).transpose(2, 0, 1)[None]

    def construct(self, x, position_bias):
        b, length, _ = x.shape
        q = self.q(x).reshape(b, length, self.heads, self.d_kv).transpose(0, 2, 1, 3)  # (B, H, L, d)
        k = self.k(x).reshape(b, length, self.heads, self.d_kv).transpose(0, 2, 1, 3)
        v = self.v(x).reshape(b, length, self.heads, self.d_kv).transpose(0, 2, 1, 3)
        scores = ops.matmul(q, k.swapaxes(-1, -2)).astype(ms.float32) + position_bias  # no 1/sqrt(d) in T5
        probs = ops.softmax(scores, axis=-1).astype(v.dtype)
        out = ops.matmul(probs, v).transpose(0, 2, 1, 3).reshape(b, length, -1)
        return self.o(out)


class _SelfAttentionLayer(nn.Cell):
    def __init__(self, cfg, has_relative_bias):
        super().__init__()
        self.SelfAttention = T5Attention(cfg, has_relative_bias)
        self.layer_norm = T5LayerNorm(cfg["d_model"], cfg["layer_norm_epsilon"])

    def construct(self, x, position_bias):
        return x + self.SelfAttention(self.layer_norm(x), position_bias)


class _DenseGatedActDense(ElementwiseForms, nn.Cell):
    def __init__(self, cfg):
        super().__init__()
        self.wi_0 = _Linear(cfg["d_model"], cfg["d_ff"])
        self.wi_1 = _Linear(cfg["d_model"], cfg["d_ff"])
        self.wo = _Linear(cfg["d_ff"], cfg["d_model"])
        self.init_kernels()

    def construct(self, x):
        return self.wo(gelu_tanh(self.wi_0(x), self.gelu_as_sigmoid) * self.wi_1(x))


class _FFLayer(nn.Cell):
    def __init__(self, cfg):
        super().__init__()
        self.DenseReluDense = _DenseGatedActDense(cfg)
        self.layer_norm = T5LayerNorm(cfg["d_model"], cfg["layer_norm_epsilon"])

    def construct(self, x):
        return x + self.DenseReluDense(self.layer_norm(x))


class T5Block(nn.Cell):
    def __init__(self, cfg, has_relative_bias):
        super().__init__()
        self.layer = nn.CellList([_SelfAttentionLayer(cfg, has_relative_bias), _FFLayer(cfg)])

    def construct(self, x, position_bias):
        x = self.layer[0](x, position_bias)
        if x.dtype == ms.float16:  # as HF: keep fp16 activations finite
            x = ops.clamp(x, -65504.0 + 1000, 65504.0 - 1000)
        x = self.layer[1](x)
        if x.dtype == ms.float16:
            x = ops.clamp(x, -65504.0 + 1000, 65504.0 - 1000)
        return x


class T5Stack(nn.Cell):
    def __init__(self, cfg):
        super().__init__()
        self.block = nn.CellList([T5Block(cfg, has_relative_bias=(i == 0)) for i in range(cfg["num_layers"])])
        self.final_layer_norm = T5LayerNorm(cfg["d_model"], cfg["layer_norm_epsilon"])


class T5EncoderModel(nn.Cell):
    """Args:
    config: a Hugging Face T5 config.json dict (T5 v1.1: feed_forward_proj 'gated-gelu').
    kernels: opensora.backend.KernelChoices; default: the current backend's.
    """

    def __init__(self, config, kernels=None):
        super().__init__()
        if config.get("feed_forward_proj", "relu") not in ("gated-gelu",):
            raise ValueError(
                f"T5 feed_forward_proj={config.get('feed_forward_proj')!r}: only the T5 v1.1 'gated-gelu' is supported"
            )
        self.config = dict(config)
        self.shared = nn.Cell()
        self.shared.weight = _param((config["vocab_size"], config["d_model"]), "weight")
        self.encoder = T5Stack(config)
        if kernels is not None:
            use_kernels(self, kernels)

    def construct(self, input_ids, attention_mask=None):
        """input_ids (B, L) int; attention_mask (B, L) 1 token / 0 pad -> last_hidden_state (B, L, D)."""
        h = ops.gather(self.shared.weight, input_ids.astype(ms.int32), 0)  # (B, L, D)
        length = input_ids.shape[1]
        bias = self.encoder.block[0].layer[0].SelfAttention.compute_bias(length, length).astype(ms.float32)
        if attention_mask is not None:
            mask_bias = (1.0 - attention_mask.astype(ms.float32)) * FP32_MIN  # (B, L)
            bias = bias + mask_bias[:, None, None, :]
        for block in self.encoder.block:
            h = block(h, bias)
        return self.encoder.final_layer_norm(h)


def weight_shards(folder):
    """The weight files of an HF folder: one file, or the shards its index lists."""
    for name in WEIGHT_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            if name.endswith(".index.json"):
                with open(path) as f:
                    shards = sorted(set(json.load(f)["weight_map"].values()))
                return [os.path.join(folder, s) for s in shards]
            return [path]
    raise UserError(f"{folder}: no T5 weights (looked for {', '.join(WEIGHT_FILES)})")


def load_t5_encoder(folder, dtype=ms.float32, logger=None):
    """T5EncoderModel from an HF folder, loaded shard by shard (one shard in memory at a time), strictly.

    `dtype` fp16 keeps the RMSNorm weights in fp32."""
    config_path = os.path.join(folder, "config.json")
    if not os.path.isfile(config_path):
        raise UserError(f"--t5_model_dir {folder}: no config.json (expected a Hugging Face T5 folder)")
    with open(config_path) as f:
        config = json.load(f)
    with no_init_parameters():  # weights come from the checkpoint; no random init, no second copy
        model = T5EncoderModel(config)
    params = dict(model.parameters_and_names())
    norms = {n for n in params if n.endswith("layer_norm.weight")}
    loaded, unexpected = set(), []
    for shard in weight_shards(folder):
        mapped, _, extra = map_names(read_state_dict(shard), params.keys(), drop_prefixes=UNUSED_PREFIXES)
        unexpected += extra
        for name, value in mapped.items():
            if tuple(value.shape) != tuple(params[name].shape):
                raise UserError(
                    f"{shard}: {name} has shape {tuple(value.shape)}, the config needs {tuple(params[name].shape)}"
                )
            target = ms.float32 if name in norms else dtype
            params[name].set_dtype(target)
            params[name].set_data(Tensor(value, target))
            loaded.add(name)
        del mapped
    missing = sorted(set(params) - loaded)
    if missing or unexpected:
        raise UserError(
            f"{folder}: T5 weights do not match config.json (missing {missing[:4]}, unexpected {unexpected[:4]})"
        )
    if logger is not None:
        logger.info(
            f"T5 encoder: {len(loaded)} tensors from {folder} ({sum(p.size for p in params.values()) / 1e6:.1f} M "
            f"parameters, {'fp16' if dtype == ms.float16 else 'fp32'})"
        )
    model.set_train(False)
    return model
