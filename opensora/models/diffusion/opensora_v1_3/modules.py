"""OpenSoraT2V_v1_3 building blocks (Open-Sora-Plan v1.3.1 opensora_v1_3/modules.py, diffusion/common.py and the
diffusers 0.30.2 pieces they use): Skiparse attention with RoPE3D, FeedForward, text projection, patch embedding.

Parameter names equal the original state-dict keys (`attn1.to_q.weight`, `ff.net.0.proj.weight`, ...).
Token tensors are batch-first (B, S, D); the original's sequence-first (S, B, D) layout only changes where the
batch axis sits, the Skiparse groups put the group index in front of the batch index exactly as its (k b).
"""

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn, ops

from ...fast_ops import ElementwiseForms, gelu_tanh, tile_to
from ..latte.modules import flash_attention, math_attention

MASK_BIAS = -10000.0  # the original turns 0/1 masks into (1 - mask) * -10000 (not -inf)
SPARSE_PAD_BIAS = -9980.0  # prepare_sparse_mask pads the self-attention bias with this value (not -10000)
ROPE_BASE = 10000.0


class LayerNorm(nn.Cell):
    """torch nn.LayerNorm(dim, eps, elementwise_affine) over the last axis, computed in fp32 (amp keep-list).

    Without affine parameters the fused kernel gets constant unit scale / zero shift that are not Parameters
    (the original's state dict has no entries for them); with them, `gamma`/`beta` = torch `weight`/`bias`."""

    def __init__(self, dim, eps=1e-5, elementwise_affine=True):
        super().__init__()
        self.layer_norm = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=eps)
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.gamma = Parameter(Tensor(np.ones(dim, np.float32)), name="gamma")
            self.beta = Parameter(Tensor(np.zeros(dim, np.float32)), name="beta")
        else:
            self.ones = Tensor(np.ones(dim, np.float32))
            self.zeros = Tensor(np.zeros(dim, np.float32))

    def construct(self, x):
        if self.elementwise_affine:
            scale, shift = self.gamma.astype(ms.float32), self.beta.astype(ms.float32)
        else:
            scale, shift = self.ones, self.zeros
        return self.layer_norm(x.astype(ms.float32), scale, shift)[0].astype(x.dtype)


class PatchEmbed2D(nn.Cell):
    """Per-frame Conv2d k=p s=p; tokens ordered (t, h, w) row-major (common.py PatchEmbed2D, no position table)."""

    def __init__(self, patch_size, in_channels, embed_dim, bias=True):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size, pad_mode="valid",
                              has_bias=bias)

    def construct(self, latent):
        b, c, t, h, w = latent.shape
        x = latent.transpose(0, 2, 1, 3, 4).reshape(b * t, c, h, w)  # (B*T, C, H, W)
        x = self.proj(x)  # (B*T, D, h, w)
        x = x.reshape(b, t, x.shape[1], -1).transpose(0, 1, 3, 2)  # (B, T, h*w, D)
        return x.reshape(b, -1, x.shape[-1])  # (B, T*h*w, D)


class PixArtAlphaTextProjection(ElementwiseForms, nn.Cell):
    """diffusers PixArtAlphaTextProjection: Linear -> GELU(tanh) -> Linear (no y_embedding buffer in v1.3)."""

    def __init__(self, in_features, hidden_size):
        super().__init__()
        self.linear_1 = nn.Dense(in_features, hidden_size)
        self.linear_2 = nn.Dense(hidden_size, hidden_size)
        self.init_kernels()

    def construct(self, caption):
        return self.linear_2(gelu_tanh(self.linear_1(caption), self.gelu_as_sigmoid))


class RoPE3D(nn.Cell):
    """common.py RoPE3D + PositionGetter3D: each head's features split in t / h / w thirds, each rotated by its
    axis position divided by that axis' interpolation scale. Returns the tables once per forward; the original
    recomputes (and caches) the same tables in every attention layer."""

    def __init__(self, head_dim, interpolation_scale_thw=(1.0, 1.0, 1.0), base=ROPE_BASE):
        super().__init__()
        d = head_dim // 3
        # torch: 1.0 / (base ** (arange(0, D, 2).float() / D)) in float32
        exponent = np.arange(0, d, 2, dtype=np.float32) / np.float32(d)
        self.inv_freq = Tensor((np.float32(1.0) / np.power(np.float32(base), exponent)).astype(np.float32))
        self.scales = tuple(float(s) for s in interpolation_scale_thw)

    def _axis(self, n, scale, dtype):
        pos = ops.arange(n).astype(ms.float32) / scale  # (n,)
        freqs = (pos[:, None] * self.inv_freq[None]).astype(dtype)  # (n, D/2) in the tokens' dtype, as upstream
        return ops.cat((freqs, freqs), axis=-1)  # (n, D)

    def construct(self, frame, height, width, dtype):
        """-> (cos, sin), each a tuple of three (1, T*H*W, 1, D) tables (t, h, w), in `dtype`."""
        sizes = (frame, height, width)
        cos, sin = (), ()
        for axis in range(3):
            shape = [1, 1, 1, -1]
            shape[axis] = sizes[axis]
            angles = self._axis(sizes[axis], self.scales[axis], dtype).reshape(shape)  # broadcastable over (T,H,W)
            angles = ops.broadcast_to(angles, (frame, height, width, angles.shape[-1])).reshape(1, -1, 1,
                                                                                             angles.shape[-1])
            a = angles.astype(ms.float32)  # cos/sin of the dtype-rounded angle, rounded back to dtype
            cos += (ops.cos(a).astype(dtype),)
            sin += (ops.sin(a).astype(dtype),)
        return cos, sin


def rotate_half(x):
    half = x.shape[-1] // 2
    return ops.cat((-x[..., half:], x[..., :half]), axis=-1)


def apply_rope(tokens, rope, tile=True):
    """tokens (B, S, H, d) -> RoPE3D(tokens); rope = (cos, sin) from RoPE3D."""
    cos, sin = rope
    parts = ops.chunk(tokens, 3, axis=-1)  # t, h, w thirds
    out = [p * tile_to(c, p.shape, tile) + rotate_half(p) * tile_to(s, p.shape, tile)
           for p, c, s in zip(parts, cos, sin)]
    return ops.cat(out, axis=-1)


def sparse_pad_len(length, sparse_n):
    return (-length) % (sparse_n * sparse_n)


def sparse_1d(x, sparse_n, group, pad_value=0.0):
    """Skiparse grouping (OpenSoraAttnProcessor2_0._sparse_1d) of (B, S, C) tokens -> (n*B, S'/n, C) with
    S' = S padded (with `pad_value`) to a multiple of n*n; group index first in the batch, as upstream's (k b).

    group=False: token g*n + k -> sequence g of batch k*B + b (every n-th token: '(g k) b d -> g (k b) d').
    group=True: token (i*n + m)*n + k -> sequence i*n + k of batch m*B + b ('(n m k) b d -> (n k) (m b) d')."""
    b, s, c = x.shape
    pad = sparse_pad_len(s, sparse_n)
    if pad:
        x = ops.cat((x, ops.fill(x.dtype, (b, pad, c), pad_value)), axis=1)  # (B, S', C)
    if group:
        x = x.reshape(b, -1, sparse_n, sparse_n, c).transpose(2, 0, 1, 3, 4)  # (m, B, i, k, C)
    else:
        x = x.reshape(b, -1, sparse_n, c).transpose(2, 0, 1, 3)  # (k, B, g, C)
    return x.reshape(sparse_n * b, -1, c)  # (n*B, S'/n, C)


def reverse_sparse_1d(x, sparse_n, group, length):
    """The inverse of sparse_1d: (n*B, S'/n, C) -> (B, length, C) (padding dropped)."""
    nb, _, c = x.shape
    b = nb // sparse_n
    if group:
        x = x.reshape(sparse_n, b, -1, sparse_n, c).transpose(1, 2, 0, 3, 4)  # (B, i, m, k, C)
    else:
        x = x.reshape(sparse_n, b, -1, c).transpose(1, 2, 0, 3)  # (B, g, k, C)
    return x.reshape(b, -1, c)[:, :length]  # (B, S, C)


def sparse_masks(bias, encoder_bias, sparse_n, group):
    """Attention.prepare_sparse_mask for one group type: (B, 1, S) self bias padded with -9980 and grouped like
    the tokens -> (n*B, 1, S'/n); (B, 1, L) text bias repeated for every group -> (n*B, 1, L)."""
    grouped = sparse_1d(bias.transpose(0, 2, 1), sparse_n, group, SPARSE_PAD_BIAS).transpose(0, 2, 1)
    return grouped, ops.tile(encoder_bias, (sparse_n, 1, 1))


class Attention(ElementwiseForms, nn.Cell):
    """diffusers Attention + OpenSoraAttnProcessor2_0 (math path): q/k/v, RoPE3D on self-attention, optional
    Skiparse grouping, SDPA (scale 1/sqrt(head_dim), additive bias), to_out. Flash attention: Ascend opt-in."""

    def __init__(self, query_dim, heads, dim_head, cross_attention_dim=None, dropout=0.0, bias=False,
                 out_bias=True, sparse1d=False, sparse_n=2, sparse_group=False, is_cross_attn=False):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dim_head, self.scale = heads, dim_head, dim_head**-0.5
        kv_dim = cross_attention_dim or query_dim
        self.to_q = nn.Dense(query_dim, inner, has_bias=bias)
        self.to_k = nn.Dense(kv_dim, inner, has_bias=bias)
        self.to_v = nn.Dense(kv_dim, inner, has_bias=bias)
        self.to_out = nn.CellList([nn.Dense(inner, query_dim, has_bias=out_bias), nn.Dropout(p=dropout)])
        self.sparse1d, self.sparse_n, self.sparse_group = sparse1d, sparse_n, sparse_group
        self.is_cross_attn = is_cross_attn
        self.use_flash_attention = False  # see OpenSoraT2V_v1_3.enable_flash_attention()
        self.sequence_to_heads = self.heads_to_sequence = None  # sequence parallel (enable_sequence_parallel)
        self.local_heads = heads
        self.init_kernels()

    def enable_sequence_parallel(self, sp):
        """Self-attention over a sequence split by frames: q, k, v of this rank's tokens -> all tokens of its
        heads/sp heads, attention, and back (the original's all_to_all_SBH pair). Cross-attention needs no
        exchange: each token attends to the whole caption on its own."""
        from ....parallel.sequence import AllToAll

        if self.is_cross_attn:
            return
        self.sequence_to_heads = AllToAll(sp, to_heads=True)  # (B, S/sp, HD) -> (B, S, HD/sp)
        self.heads_to_sequence = AllToAll(sp, to_heads=False)
        self.local_heads = self.heads // sp.size

    def construct(self, x, context=None, bias=None, rope=None):
        """x (B, S, D); context (B, L, Dc) or None (self-attention); bias (B', 1, Lk) additive, already grouped
        when sparse (B' = n*B); rope: RoPE3D tables (self-attention). Sequence parallel: x holds this rank's S/sp
        tokens; bias and rope are of the whole sequence."""
        context = x if context is None else context
        q, k, v = self.to_q(x), self.to_k(context), self.to_v(context)  # (B, S, HD), (B, L, HD) x2
        heads = self.local_heads
        if self.sequence_to_heads is not None:
            q, k, v = self.sequence_to_heads(q), self.sequence_to_heads(k), self.sequence_to_heads(v)
        b, s, _ = q.shape
        if not self.is_cross_attn:
            q = apply_rope(q.reshape(b, s, heads, -1), rope, self.tile).reshape(b, s, -1)
            k = apply_rope(k.reshape(b, s, heads, -1), rope, self.tile).reshape(b, s, -1)
        if self.sparse1d:
            q = sparse_1d(q, self.sparse_n, self.sparse_group)  # (n*B, S'/n, HD)
            if self.is_cross_attn:  # every group attends to the whole caption
                k, v = ops.tile(k, (self.sparse_n, 1, 1)), ops.tile(v, (self.sparse_n, 1, 1))
            else:
                k = sparse_1d(k, self.sparse_n, self.sparse_group)
                v = sparse_1d(v, self.sparse_n, self.sparse_group)
        n, lq, lk = q.shape[0], q.shape[1], k.shape[1]
        q = q.reshape(n, lq, heads, -1).transpose(0, 2, 1, 3)  # (N, H, Lq, d)
        k = k.reshape(n, lk, heads, -1).transpose(0, 2, 1, 3)  # (N, H, Lk, d)
        v = v.reshape(n, lk, heads, -1).transpose(0, 2, 1, 3)
        if self.use_flash_attention:
            out = flash_attention(q, k, v, bias, self.scale)
        else:
            out = math_attention(q, k, v, bias, self.scale, self.tile)  # (N, H, Lq, d)
        out = out.transpose(0, 2, 1, 3).reshape(n, lq, -1)  # (N, Lq, HD)
        if self.sparse1d:
            out = reverse_sparse_1d(out, self.sparse_n, self.sparse_group, s)  # (B, S, HD)
        if self.heads_to_sequence is not None:
            out = self.heads_to_sequence(out)  # (B, S, HD/sp) -> (B, S/sp, HD)
        return self.to_out[1](self.to_out[0](out))


class _GELU(ElementwiseForms, nn.Cell):
    """diffusers GELU / GEGLU / ApproximateGELU: the projection into the FeedForward and its activation."""

    def __init__(self, dim_in, dim_out, activation_fn, bias=True):
        super().__init__()
        self.gated = activation_fn == "geglu"
        self.activation_fn = activation_fn
        self.proj = nn.Dense(dim_in, dim_out * 2 if self.gated else dim_out, has_bias=bias)
        self.init_kernels()

    def construct(self, x):
        x = self.proj(x)
        if self.gated:  # GEGLU: hidden * gelu(gate), exact erf GELU
            hidden, gate = ops.chunk(x, 2, axis=-1)
            return hidden * ops.gelu(gate.astype(ms.float32), approximate="none").astype(gate.dtype)
        if self.activation_fn == "gelu-approximate":
            return gelu_tanh(x, self.gelu_as_sigmoid)
        if self.activation_fn == "geglu-approximate":  # ApproximateGELU: x * sigmoid(1.702 x)
            return x * ops.sigmoid(1.702 * x)
        return ops.gelu(x.astype(ms.float32), approximate="none").astype(x.dtype)


class FeedForward(nn.Cell):
    """diffusers FeedForward: net.0 (activation with its projection, D -> 4D), net.1 dropout, net.2 (4D -> D)."""

    def __init__(self, dim, dropout=0.0, activation_fn="geglu", final_dropout=False, inner_dim=None, bias=True,
                 mult=4):
        super().__init__()
        inner_dim = inner_dim or int(dim * mult)
        layers = [_GELU(dim, inner_dim, activation_fn, bias), nn.Dropout(p=dropout), nn.Dense(inner_dim, dim,
                                                                                               has_bias=bias)]
        if final_dropout:
            layers.append(nn.Dropout(p=dropout))
        self.net = nn.CellList(layers)

    def construct(self, x):
        for layer in self.net:
            x = layer(x)
        return x


def modulate(x, shift, scale, tile=True):
    """x * (1 + scale) + shift with (B, 1, D) scale/shift (tiled over S first where `tile`, fast_ops.tile_to)."""
    return x * tile_to(1 + scale, x.shape, tile) + tile_to(shift, x.shape, tile)


class BasicTransformerBlock(ElementwiseForms, nn.Cell):
    """adaLN-single block: gated self-attention (norm1, RoPE, Skiparse), cross-attention WITHOUT a norm and
    without a gate, gated FF after norm2 (the original's order)."""

    def __init__(self, dim, num_attention_heads, attention_head_dim, dropout=0.0, cross_attention_dim=None,
                 activation_fn="geglu", attention_bias=False, only_cross_attention=False,
                 double_self_attention=False, upcast_attention=False, norm_elementwise_affine=True, norm_eps=1e-5,
                 final_dropout=False, ff_inner_dim=None, ff_bias=True, attention_out_bias=True, sparse1d=False,
                 sparse_n=2, sparse_group=False):
        super().__init__()
        # upcast_attention does not reach OpenSoraAttnProcessor2_0 (SDPA); accepted as upstream
        attn_args = dict(query_dim=dim, heads=num_attention_heads, dim_head=attention_head_dim, dropout=dropout,
                         bias=attention_bias, out_bias=attention_out_bias, sparse1d=sparse1d, sparse_n=sparse_n,
                         sparse_group=sparse_group)
        self.norm1 = LayerNorm(dim, norm_eps, norm_elementwise_affine)
        self.attn1 = Attention(cross_attention_dim=cross_attention_dim if only_cross_attention else None,
                               is_cross_attn=False, **attn_args)
        self.norm2 = LayerNorm(dim, norm_eps, norm_elementwise_affine)
        self.attn2 = Attention(cross_attention_dim=cross_attention_dim if not double_self_attention else None,
                               is_cross_attn=True, **attn_args)
        self.ff = FeedForward(dim, dropout=dropout, activation_fn=activation_fn, final_dropout=final_dropout,
                              inner_dim=ff_inner_dim, bias=ff_bias)
        init = np.random.default_rng(1).standard_normal((6, dim)).astype(np.float32) / dim**0.5
        self.scale_shift_table = Parameter(Tensor(init), name="scale_shift_table")
        self.init_kernels()

    def construct(self, x, attention_bias, context, encoder_bias, timestep, rope):
        """x (B, S, D); attention_bias / encoder_bias: this block's (grouped) biases; context (B, L, D);
        timestep (B, 6D) from adaln_single; rope: RoPE3D tables."""
        b = x.shape[0]
        mod = self.scale_shift_table[None] + timestep.reshape(b, 6, -1)  # (B, 6, D)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = ops.chunk(mod, 6, axis=1)  # (B, 1, D)
        attn = self.attn1(modulate(self.norm1(x), shift_msa, scale_msa, self.tile), None, attention_bias, rope)
        x = tile_to(gate_msa, x.shape, self.tile) * attn + x  # (B, S, D)
        x = self.attn2(x, context, encoder_bias) + x
        ff = self.ff(modulate(self.norm2(x), shift_mlp, scale_mlp, self.tile))
        return tile_to(gate_mlp, x.shape, self.tile) * ff + x
