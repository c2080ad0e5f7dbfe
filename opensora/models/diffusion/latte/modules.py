"""LatteT2V building blocks (Open-Sora-Plan v1.0.0 latte/modules.py + the diffusers pieces it uses).

Parameter names equal the original state-dict keys (`attn1.to_q.weight`, `ff.net.0.proj.weight`, ...).
Token tensors are (N, L, D).
"""

import math

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn, ops

from ...fast_ops import ElementwiseForms, gelu_tanh, tile_to
from .pos_embed import get_2d_sincos_pos_embed

MASK_BIAS = -10000.0  # the original turns a 0/1 mask into (1 - mask) * -10000, not -inf (L8)


class LayerNormNoAffine(nn.Cell):
    """LayerNorm over the last axis without parameters (norm_elementwise_affine=False), computed in fp32.

    The fused kernel with constant unit scale / zero shift is ~10x faster on CPU than the same math in
    broadcasting ops; the constants are not Parameters, so the state dict has no norm entries, as upstream."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.dim = dim
        self.layer_norm = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=eps)
        self.ones = Tensor(np.ones(dim, np.float32))
        self.zeros = Tensor(np.zeros(dim, np.float32))

    def construct(self, x):
        return self.layer_norm(x.astype(ms.float32), self.ones, self.zeros)[0].astype(x.dtype)


def _timestep_frequencies(half, max_period=10000):
    """exp(-ln(max_period) * k / half) in float32 as torch computes it: the exponent in fp32, exp correctly
    rounded. MindSpore's CPU exp differs from torch's by ~1 ulp, which a timestep of 999 amplifies to 1e-3."""
    exponent = np.float32(-math.log(max_period)) * np.arange(half, dtype=np.float32) / np.float32(half)
    return np.exp(exponent.astype(np.float64)).astype(np.float32)


def timestep_sinusoid(timesteps, dim=256, max_period=10000):
    """diffusers Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0) in fp32, upstream op order (L3)."""
    freqs = Tensor(_timestep_frequencies(dim // 2, max_period))
    emb = timesteps.astype(ms.float32)[:, None] * freqs[None, :]  # (N, 128)
    return ops.cat((ops.cos(emb), ops.sin(emb)), axis=-1)  # [cos | sin]


class TimestepEmbedding(nn.Cell):
    def __init__(self, in_channels, time_embed_dim):
        super().__init__()
        self.linear_1 = nn.Dense(in_channels, time_embed_dim)
        self.linear_2 = nn.Dense(time_embed_dim, time_embed_dim)

    def construct(self, x):
        return self.linear_2(ops.silu(self.linear_1(x)))


class CombinedTimestepSizeEmbeddings(nn.Cell):
    """The PixArt timestep embedder without the (unused) resolution/aspect-ratio conditions."""

    def __init__(self, embedding_dim):
        super().__init__()
        self.timestep_embedder = TimestepEmbedding(256, embedding_dim)

    def construct(self, timestep, dtype):
        return self.timestep_embedder(timestep_sinusoid(timestep).astype(dtype))  # (N, D)


class AdaLayerNormSingle(nn.Cell):
    """adaLN-single: t -> (6D modulation for every block, the embedded timestep for the final layer)."""

    def __init__(self, embedding_dim):
        super().__init__()
        self.emb = CombinedTimestepSizeEmbeddings(embedding_dim)
        self.linear = nn.Dense(embedding_dim, 6 * embedding_dim)

    def construct(self, timestep, dtype):
        embedded_timestep = self.emb(timestep, dtype)  # (N, D)
        return self.linear(ops.silu(embedded_timestep)), embedded_timestep  # (N, 6D), (N, D)


class CaptionProjection(ElementwiseForms, nn.Cell):
    """Linear -> GELU(tanh) -> Linear (L9). `y_embedding` is a stored-but-unused buffer of the checkpoint."""

    def __init__(self, in_features, hidden_size, num_tokens=120):
        super().__init__()
        self.linear_1 = nn.Dense(in_features, hidden_size)
        self.linear_2 = nn.Dense(hidden_size, hidden_size)
        init = np.random.default_rng(0).standard_normal((num_tokens, in_features)).astype(np.float32)
        self.y_embedding = Parameter(Tensor(init / in_features**0.5), name="y_embedding", requires_grad=False)
        self.init_kernels()

    def construct(self, caption):
        return self.linear_2(gelu_tanh(self.linear_1(caption), self.gelu_as_sigmoid))


class PatchEmbed(nn.Cell):
    """Conv2d k=p s=p patchify, flattened row-major over (h, w), plus the fixed 2-D sin-cos embedding."""

    def __init__(self, height, width, patch_size, in_channels, embed_dim, interpolation_scale=1):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size, pad_mode="valid", has_bias=True)
        self.height, self.width = height // patch_size, width // patch_size
        self.base_size = height // patch_size
        self.interpolation_scale = interpolation_scale
        self.embed_dim = embed_dim
        grid = int((self.height * self.width) ** 0.5)
        self.pos_embed = Tensor(self._table(grid, grid)[None])  # non-persistent buffer: not a Parameter

    def _table(self, h, w):
        return get_2d_sincos_pos_embed(self.embed_dim, (h, w), self.base_size, self.interpolation_scale).astype(
            np.float32)

    def construct(self, latent):
        h, w = latent.shape[-2] // self.patch_size, latent.shape[-1] // self.patch_size
        x = self.proj(latent)  # (N, D, h, w)
        x = x.reshape(x.shape[0], x.shape[1], -1).transpose(0, 2, 1)  # (N, h*w, D)
        if h != self.height or w != self.width:  # recomputed per call for other latent sizes (L2)
            pos = Tensor(self._table(h, w)[None])
        else:
            pos = self.pos_embed
        return (x + pos).astype(x.dtype)


class Attention(ElementwiseForms, nn.Cell):
    """diffusers Attention with AttnProcessor2_0 (math path): q/k/v/out with bias, SDPA scale 1/sqrt(head_dim)."""

    def __init__(self, query_dim, heads, dim_head, cross_attention_dim=None, bias=True):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dim_head = heads, dim_head
        self.scale = dim_head**-0.5
        kv_dim = cross_attention_dim or query_dim
        self.to_q = nn.Dense(query_dim, inner, has_bias=bias)
        self.to_k = nn.Dense(kv_dim, inner, has_bias=bias)
        self.to_v = nn.Dense(kv_dim, inner, has_bias=bias)
        self.to_out = nn.CellList([nn.Dense(inner, query_dim, has_bias=True), nn.Dropout(p=0.0)])
        self.use_flash_attention = False  # Ascend-only opt-in, see enable_flash_attention()
        self.init_kernels()

    def construct(self, x, context=None, bias=None):
        """x (N, Lq, D); context (N, Lk, Dc) or None (self-attention); bias (N, 1, Lk) additive or None."""
        context = x if context is None else context
        n, lq, _ = x.shape
        q = self.to_q(x).reshape(n, lq, self.heads, self.dim_head).transpose(0, 2, 1, 3)  # (N, H, Lq, d)
        k = self.to_k(context).reshape(n, -1, self.heads, self.dim_head).transpose(0, 2, 1, 3)  # (N, H, Lk, d)
        v = self.to_v(context).reshape(n, -1, self.heads, self.dim_head).transpose(0, 2, 1, 3)
        if self.use_flash_attention:
            out = flash_attention(q, k, v, bias, self.scale)
        else:
            out = math_attention(q, k, v, bias, self.scale, self.tile)  # (N, H, Lq, d)
        out = out.transpose(0, 2, 1, 3).reshape(n, lq, self.heads * self.dim_head)
        return self.to_out[1](self.to_out[0](out))


def math_attention(q, k, v, bias, scale, tile=True):
    """softmax(q k^T * scale + bias) v with the softmax in fp32 (keep-list); `tile`: see fast_ops.tile_to."""
    scores = ops.matmul(q, k.swapaxes(-1, -2)).astype(ms.float32) * scale  # (N, H, Lq, Lk)
    if bias is not None:
        bias = tile_to(bias.astype(ms.float32)[:, None], scores.shape, tile)  # (N, 1, 1, Lk) over heads, queries
        scores = scores + bias
    probs = ops.softmax(scores, axis=-1).astype(v.dtype)
    return ops.matmul(probs, v)


def flash_attention(q, k, v, bias, scale):
    """Ascend flash attention. Its mask is 1 = DISCARD (the opposite of the 0/1 keep mask); the -10000 bias
    becomes a boolean discard mask. Only numerically equal to `math_attention` up to the -10000 vs -inf
    difference, which vanishes unless a row is fully masked."""
    n, heads, lq, _ = q.shape
    mask = None
    if bias is not None:
        discard = (bias < MASK_BIAS / 2).astype(ms.uint8)  # (N, 1, Lk)
        mask = ops.broadcast_to(discard[:, None], (n, 1, lq, discard.shape[-1]))
    return ops.flash_attention_score(q, k, v, heads, attn_mask=mask, scalar_value=scale, input_layout="BNSD")


class FeedForward(nn.Cell):
    """diffusers FeedForward with GELU(approximate='tanh'): net.0.proj (D->4D), dropout, net.2 (4D->D)."""

    def __init__(self, dim, mult=4):
        super().__init__()
        self.net = nn.CellList([_GELUProj(dim, dim * mult), nn.Dropout(p=0.0), nn.Dense(dim * mult, dim)])

    def construct(self, x):
        return self.net[2](self.net[1](self.net[0](x)))


class _GELUProj(ElementwiseForms, nn.Cell):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Dense(dim_in, dim_out)
        self.init_kernels()

    def construct(self, x):
        return gelu_tanh(self.proj(x), self.gelu_as_sigmoid)


def modulate(x, shift, scale, tile=True):
    """x * (1 + scale) + shift with (N, 1, D) scale/shift, tiled over L first where `tile` (fast_ops.tile_to)."""
    return x * tile_to(1 + scale, x.shape, tile) + tile_to(shift, x.shape, tile)


class BasicTransformerBlock(ElementwiseForms, nn.Cell):
    """Spatial block, ada_norm_single (L5): gated self-attn, UN-normed ungated cross-attn, gated FF (norm2)."""

    def __init__(self, dim, heads, dim_head, cross_attention_dim, norm_eps=1e-6, bias=True, temporal=False):
        super().__init__()
        self.temporal = temporal
        self.norm1 = LayerNormNoAffine(dim, norm_eps)
        self.attn1 = Attention(dim, heads, dim_head, bias=bias)
        if temporal:  # the temporal block has no cross-attention; its FF norm is called norm3 (L6)
            self.norm3 = LayerNormNoAffine(dim, norm_eps)
        else:
            self.attn2 = Attention(dim, heads, dim_head, cross_attention_dim=cross_attention_dim, bias=bias)
            self.norm2 = LayerNormNoAffine(dim, norm_eps)
        self.ff = FeedForward(dim)
        self.scale_shift_table = Parameter(Tensor(np.random.default_rng(1).standard_normal((6, dim)).astype(np.float32)
                                                  / dim**0.5), name="scale_shift_table")
        self.init_kernels()

    def construct(self, x, context, context_bias, timestep):
        """x (N, L, D); context (N, Lc, D) or None; context_bias (N, 1, Lc) or None; timestep (N, 6D)."""
        n = x.shape[0]
        mod = self.scale_shift_table[None] + timestep.reshape(n, 6, -1)  # (N, 6, D)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = ops.chunk(mod, 6, axis=1)  # (N, 1, D)
        x = x + tile_to(gate_msa, x.shape, self.tile) * self.attn1(modulate(self.norm1(x), shift_msa, scale_msa,
                                                                                  self.tile))
        if not self.temporal:
            x = x + self.attn2(x, context, context_bias)
        ff_norm = self.norm3 if self.temporal else self.norm2
        ff = self.ff(modulate(ff_norm(x), shift_mlp, scale_mlp, self.tile))
        return x + tile_to(gate_mlp, x.shape, self.tile) * ff
