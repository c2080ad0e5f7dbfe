"""OpenSoraT2V_v1_3 (Open-Sora-Plan v1.3.1 opensora_v1_3/modeling_opensora.py) in MindSpore: the Skiparse 3-D DiT
with RoPE3D, cross-attention to text, adaLN-single; (B, C, T, H, W) latents in, the same shape out."""

import os

import numpy as np
from mindspore import Parameter, Tensor, nn, ops

from ....backend import use_kernels
from ....io import load_state_into, read_state_dict
from ...fast_ops import ElementwiseForms
from ..latte.modules import AdaLayerNormSingle
from .config import SPARSE_LAYERS, find_weights, load_config, normalize_config
from .modules import (
    MASK_BIAS,
    BasicTransformerBlock,
    LayerNorm,
    PatchEmbed2D,
    PixArtAlphaTextProjection,
    RoPE3D,
    modulate,
    sparse_masks,
)


def is_sparse_layer(i):
    return i in SPARSE_LAYERS


class OpenSoraT2V_v1_3(ElementwiseForms, nn.Cell):
    """Args:
        config: the released config.json dict (or keyword arguments with the same names).
        kernels: opensora.backend.KernelChoices; default: the current backend's.
    """

    FP32_CELLS = (LayerNorm,)  # the amp keep-list (utils/amp.py); softmax is fp32 inside the attention
    CLASS_NAME = "OpenSoraT2V_v1_3"
    EXTRA_CONFIG = {}  # config keys a subclass adds, with their defaults

    def __init__(self, config=None, kernels=None, **kwargs):
        super().__init__()
        self.config = cfg = normalize_config({**(config or {}), **kwargs}, f"the {self.CLASS_NAME} config",
                                             self.CLASS_NAME, self.EXTRA_CONFIG)
        self.hidden_size = hidden = cfg["num_attention_heads"] * cfg["attention_head_dim"]
        self.out_channels = cfg["in_channels"] if cfg["out_channels"] is None else cfg["out_channels"]
        self.patch_size, self.patch_size_t = cfg["patch_size"], cfg["patch_size_t"]
        self.caption_projection = PixArtAlphaTextProjection(cfg["caption_channels"], hidden)
        self.pos_embed = PatchEmbed2D(cfg["patch_size"], cfg["in_channels"], hidden)
        thw = (cfg["interpolation_scale_t"], cfg["interpolation_scale_h"], cfg["interpolation_scale_w"])
        self.rope = RoPE3D(cfg["attention_head_dim"], thw)
        block_args = {k: cfg[k] for k in (
            "dropout", "cross_attention_dim", "activation_fn", "attention_bias", "only_cross_attention",
            "double_self_attention", "upcast_attention", "norm_elementwise_affine", "norm_eps", "sparse_n")}
        self.transformer_blocks = nn.CellList([
            BasicTransformerBlock(hidden, cfg["num_attention_heads"], cfg["attention_head_dim"],
                                  sparse1d=cfg["sparse1d"] and is_sparse_layer(i), sparse_group=i % 2 == 1,
                                  **block_args)
            for i in range(cfg["num_layers"])
        ])
        self.norm_out = LayerNorm(hidden, 1e-6, elementwise_affine=False)
        init = np.random.default_rng(2).standard_normal((2, hidden)).astype(np.float32) / hidden**0.5
        self.scale_shift_table = Parameter(Tensor(init), name="scale_shift_table")
        self.proj_out = nn.Dense(hidden, cfg["patch_size_t"] * cfg["patch_size"] ** 2 * self.out_channels)
        self.adaln_single = AdaLayerNormSingle(hidden)
        self.gradient_checkpointing = False
        self.sp_size, self.sp_rank = 1, 0  # sequence parallel (enable_sequence_parallel): this rank's frames
        self.gather_frames = None
        self.init_kernels()
        if kernels is not None:
            use_kernels(self, kernels)

    # ------------------------------------------------------------------ construction and loading
    @classmethod
    def from_pretrained(cls, folder_or_config, checkpoint=None, strict=True, logger=None):
        """A released folder (config.json + diffusion_pytorch_model.safetensors), or a config file plus an
        optional `checkpoint` (.safetensors/.ckpt/.pt; None: initial weights)."""
        config_path = folder_or_config
        if os.path.isdir(folder_or_config):
            config_path = os.path.join(folder_or_config, "config.json")
            checkpoint = checkpoint or find_weights(folder_or_config)
        model = cls(load_config(config_path, cls.CLASS_NAME, cls.EXTRA_CONFIG))
        if checkpoint:
            model.load_checkpoint(checkpoint, strict=strict, logger=logger)
        return model

    def load_checkpoint(self, path, strict=True, logger=None):
        return load_state_into(self, read_state_dict(path), source=path, strict=strict, logger=logger)

    def enable_gradient_checkpointing(self):
        """Per-block recompute for training (the original's gradient_checkpointing; same outputs)."""
        self.gradient_checkpointing = True
        for block in self.transformer_blocks:
            block.recompute()

    def enable_flash_attention(self, enable=True):
        """Ascend only: flash attention in every block (math attention is the default and the reference)."""
        for _, cell in self.cells_and_names():
            if hasattr(cell, "use_flash_attention"):
                cell.use_flash_attention = enable

    def enable_sequence_parallel(self, sp, gather_output=False):
        """Split the latent frames over `sp` (opensora.parallel.sequence.SequenceParallel), as the original's
        --sp_size: this rank embeds and runs frames [r*T/sp, (r+1)*T/sp) of every sample; self-attention sees all
        frames for its num_attention_heads/sp heads. The output is this rank's frames, or with `gather_output`
        the whole (B, C, T, H, W) on every rank (sampling). The result equals the unsplit model's."""
        from ....parallel.sequence import GatherFrames

        heads = self.config["num_attention_heads"]
        if heads % sp.size:
            raise ValueError(f"sequence parallel over {sp.size} ranks splits the {heads} attention heads evenly; "
                             f"choose a size dividing {heads}")
        self.sp_size, self.sp_rank = sp.size, sp.rank
        for block in self.transformer_blocks:
            block.attn1.enable_sequence_parallel(sp)
        if gather_output:
            self.gather_frames = GatherFrames(sp)

    # ------------------------------------------------------------------ forward
    def construct(self, hidden_states, timestep, encoder_hidden_states, attention_mask=None,
                  encoder_attention_mask=None, pooled_projections=None):
        """
        Args:
            hidden_states: (B, C, T, H, W) latents.
            timestep: (B,) diffusion steps (int or float).
            encoder_hidden_states: (B, 1, L, caption_channels), as the original pipeline passes them.
            attention_mask: (B, T, H, W) 1 keep / 0 pad (max-pooled over each patch), or an additive (B, 1, S)
                bias; None: keep everything (the original requires a mask; all ones gives the same result).
            encoder_attention_mask: (B, 1, L) 1 keep / 0 pad; None: keep everything.
            pooled_projections: ignored (the pipeline passes it; the original swallows it in **kwargs).
        Returns: (B, out_channels, T, H, W) (the original's `return_dict=False` output [0]).
        """
        b, _, frame, h, w = hidden_states.shape
        dtype = self.proj_out.weight.dtype
        height, width = h // self.patch_size, w // self.patch_size
        bias = self._video_bias(attention_mask, b, frame * height * width, dtype)  # (B, 1, S)
        encoder_bias = self._text_bias(encoder_attention_mask, b, encoder_hidden_states.shape[2], dtype)  # (B,1,L)
        local_frames = frame // self.sp_size
        if self.sp_size > 1:  # this rank's frames (every rank is given the whole latents)
            if frame % self.sp_size:
                raise ValueError(f"sequence parallel over {self.sp_size} ranks: {frame} latent frames do not split "
                                 "evenly")
            hidden_states = ops.narrow(hidden_states, 2, self.sp_rank * local_frames, local_frames)
        x = self.embed_latents(hidden_states, dtype)  # (B, S/sp, D)
        t6, embedded_timestep = self.adaln_single(timestep, dtype)  # (B, 6D), (B, D)
        if encoder_hidden_states.shape[1] != 1:
            raise ValueError(f"encoder_hidden_states must be (B, 1, L, C); got {encoder_hidden_states.shape}")
        context = self.caption_projection(encoder_hidden_states.astype(dtype))[:, 0]  # (B, L, D)
        masks = self._block_masks(bias, encoder_bias)
        rope = self.rope(frame, height, width, dtype)  # of all frames: self-attention runs on the whole sequence
        for i, block in enumerate(self.transformer_blocks):
            self_bias, cross_bias = masks[self._mask_key(i)]
            x = block(x, self_bias, context, cross_bias, t6, rope)  # (B, S/sp, D)
        shift, scale = ops.chunk(self.scale_shift_table[None] + embedded_timestep[:, None], 2, axis=1)  # (B, 1, D)
        x = self.proj_out(modulate(self.norm_out(x), shift, scale, self.tile))  # (B, S/sp, pt*p*p*C)
        out = self._unpatchify(x, b, local_frames, height, width)
        return out if self.gather_frames is None else self.gather_frames(out)

    def embed_latents(self, hidden_states, dtype):
        """(B, C, T, H, W) -> tokens (B, T*H/p*W/p, D): the patch embedding (the inpaint model adds its inputs')."""
        return self.pos_embed(hidden_states.astype(dtype))

    def _mask_key(self, i):
        """(group size, group type) of the masks block i gets: the original picks the configured sparse_n for
        layers 2..29 whether or not the layer is sparse, 1 (= ungrouped) elsewhere."""
        n = self.config["sparse_n"] if is_sparse_layer(i) else 1
        return n, i % 2 == 1

    def _block_masks(self, bias, encoder_bias):
        """Attention.prepare_sparse_mask for every (group size, group type) the blocks use."""
        masks = {}
        for i in range(len(self.transformer_blocks)):
            n, group = key = self._mask_key(i)
            if key not in masks:
                masks[key] = (bias, encoder_bias) if n == 1 else sparse_masks(bias, encoder_bias, n, group)
        return masks

    def _video_bias(self, mask, b, tokens, dtype):
        """(B, T, H, W) 0/1 -> max-pool over each (pt, p, p) patch -> nonzero -> (1 - m) * -10000, (B, 1, S)."""
        if mask is None:
            return ops.zeros((b, 1, tokens), dtype)
        if mask.ndim != 4:  # already a bias, used as given (the original converts 4-D masks only)
            return mask.astype(dtype)
        _, t, h, w = mask.shape
        p, pt = self.patch_size, self.patch_size_t
        m = mask.astype(dtype)[:, : t // pt * pt, : h // p * p, : w // p * p]
        m = m.reshape(b, t // pt, pt, h // p, p, w // p, p).max(axis=(2, 4, 6))  # max_pool3d, kernel = stride
        keep = (m != 0).astype(dtype).reshape(b, 1, -1)  # (B, 1, S); .bool()
        return (1 - keep) * MASK_BIAS

    def _text_bias(self, mask, b, length, dtype):
        if mask is None:
            return ops.zeros((b, 1, length), dtype)
        if mask.ndim != 3:
            raise ValueError(f"encoder_attention_mask must be (B, 1, L) 0/1; got shape {mask.shape}")
        return (1 - mask.astype(dtype)) * MASK_BIAS  # (B, 1, L)

    def _unpatchify(self, x, b, frame, height, width):
        """(B, T*h*w, pt*p*p*C), features ordered (o, p, q, c) -> (B, C, T*pt, h*p, w*p)."""
        p, pt, c = self.patch_size, self.patch_size_t, self.out_channels
        x = x.reshape(b, frame, height, width, pt, p, p, c)
        # contiguous before the reshape: in MindSpore 2.7's PyNative mode, reshaping the transposed view of the
        # projection's output corrupts the heap at full size (glibc aborts the process at exit)
        x = x.transpose(0, 7, 1, 4, 2, 5, 3, 6).contiguous()  # nthwopqc -> nctohpwq
        return x.reshape(b, c, frame * pt, height * p, width * p)


def OpenSoraT2V_v1_3_2B_122(**kwargs):
    kwargs.pop("skip_connection", None)
    return OpenSoraT2V_v1_3(
        num_layers=32, attention_head_dim=96, num_attention_heads=24, patch_size_t=1, patch_size=2,
        caption_channels=4096, cross_attention_dim=2304, activation_fn="gelu-approximate", **kwargs,
    )


OpenSora_v1_3_models = {"OpenSoraT2V_v1_3-2B/122": OpenSoraT2V_v1_3_2B_122}  # 2.77B parameters
OpenSora_v1_3_models_class = {"OpenSoraT2V_v1_3-2B/122": OpenSoraT2V_v1_3}
