"""LatteT2V (Open-Sora-Plan v1.0.0 modeling_latte.py) in MindSpore: spatial + temporal transformer blocks with
adaLN-single, cross-attention to T5 captions, learned-sigma output (B, 2C, F, H, W)."""

import json
import os

import numpy as np
from mindspore import Parameter, Tensor, nn, ops

from ....backend import use_kernels
from ....io import load_state_into, read_state_dict
from ...fast_ops import ElementwiseForms
from .modules import (
    MASK_BIAS,
    AdaLayerNormSingle,
    BasicTransformerBlock,
    CaptionProjection,
    LayerNormNoAffine,
    PatchEmbed,
    modulate,
)
from .pos_embed import get_1d_sincos_pos_embed

# Constructor arguments of the original LatteT2V (config.json keys) and their defaults.
LATTE_DEFAULTS = dict(
    num_attention_heads=16, patch_size_t=1, attention_head_dim=88, in_channels=None, out_channels=None, num_layers=1,
    dropout=0.0, norm_num_groups=32, cross_attention_dim=None, attention_bias=False, sample_size=None,
    num_vector_embeds=None, patch_size=None, activation_fn="geglu", num_embeds_ada_norm=None,
    use_linear_projection=False, only_cross_attention=False, double_self_attention=False, upcast_attention=False,
    norm_type="layer_norm", norm_elementwise_affine=True, norm_eps=1e-5, attention_type="default",
    caption_channels=None, video_length=16, attention_mode="flash",
)
IGNORED_CONFIG_KEYS = ("_class_name", "_diffusers_version", "_name_or_path")
# What this port implements: the released T2V configuration (checked so another config fails loudly).
SUPPORTED = dict(norm_type="ada_norm_single", activation_fn="gelu-approximate", norm_elementwise_affine=False,
                 num_vector_embeds=None, only_cross_attention=False, double_self_attention=False, patch_size_t=1,
                 attention_type="default")
WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "model.safetensors", "model.ckpt")


def resolve_config(config):
    cfg = dict(LATTE_DEFAULTS)
    for key, value in config.items():
        if key in IGNORED_CONFIG_KEYS:
            continue
        if key not in LATTE_DEFAULTS:
            raise ValueError(f"unknown LatteT2V config key '{key}'")
        cfg[key] = value
    for key, value in SUPPORTED.items():
        if cfg[key] != value:
            raise ValueError(f"LatteT2V config {key}={cfg[key]!r} is not supported (the released models use {value!r})")
    if cfg["in_channels"] is None or cfg["patch_size"] is None or cfg["sample_size"] is None:
        raise ValueError("LatteT2V config needs in_channels, patch_size and sample_size")
    if isinstance(cfg["sample_size"], int):
        cfg["sample_size"] = [cfg["sample_size"], cfg["sample_size"]]
    return cfg


class LatteT2V(ElementwiseForms, nn.Cell):
    """Args:
        config: the released config.json dict (or keyword arguments with the same names).
        kernels: opensora.backend.KernelChoices; default: the current backend's.
    """

    def __init__(self, config=None, kernels=None, **kwargs):
        super().__init__()
        self.config = cfg = resolve_config({**(config or {}), **kwargs})
        inner = cfg["num_attention_heads"] * cfg["attention_head_dim"]
        self.inner_dim, self.patch_size = inner, cfg["patch_size"]
        self.in_channels = cfg["in_channels"]
        self.out_channels = cfg["in_channels"] if cfg["out_channels"] is None else cfg["out_channels"]
        self.video_length = cfg["video_length"]
        height, width = cfg["sample_size"]
        self.pos_embed = PatchEmbed(height, width, cfg["patch_size"], cfg["in_channels"], inner,
                                    interpolation_scale=max(height // 64, 1))
        block_args = dict(dim=inner, heads=cfg["num_attention_heads"], dim_head=cfg["attention_head_dim"],
                          cross_attention_dim=cfg["cross_attention_dim"], norm_eps=cfg["norm_eps"],
                          bias=cfg["attention_bias"])
        self.transformer_blocks = nn.CellList([BasicTransformerBlock(**block_args) for _ in range(cfg["num_layers"])])
        self.temporal_transformer_blocks = nn.CellList(
            [BasicTransformerBlock(**block_args, temporal=True) for _ in range(cfg["num_layers"])])
        self.norm_out = LayerNormNoAffine(inner, 1e-6)
        self.scale_shift_table = Parameter(
            Tensor(np.random.default_rng(2).standard_normal((2, inner)).astype(np.float32) / inner**0.5),
            name="scale_shift_table",
        )
        self.proj_out = nn.Dense(inner, cfg["patch_size"] ** 2 * self.out_channels)
        self.adaln_single = AdaLayerNormSingle(inner)
        self.caption_projection = CaptionProjection(cfg["caption_channels"], inner)
        # 3 for the 65-frame models: positions 0, 1/3, ... (L2); a non-persistent buffer.
        temporal_scale = max(cfg["video_length"] // 5, 1)
        self.temp_pos_embed = Tensor(
            get_1d_sincos_pos_embed(inner, cfg["video_length"], temporal_scale).astype(np.float32)[None]
        )
        self.gradient_checkpointing = False
        self.init_kernels()
        if kernels is not None:
            use_kernels(self, kernels)

    # ------------------------------------------------------------------ construction and loading
    @classmethod
    def from_pretrained(cls, folder, checkpoint=None, strict=True, logger=None):
        """A released folder (config.json + weights), or `checkpoint` (.ckpt/.safetensors/.pt) for its config."""
        with open(os.path.join(folder, "config.json")) as f:
            model = cls(json.load(f))
        if checkpoint is None:
            found = [os.path.join(folder, n) for n in WEIGHT_FILES if os.path.isfile(os.path.join(folder, n))]
            checkpoint = found[0] if found else None
        if checkpoint:
            model.load_checkpoint(checkpoint, strict=strict, logger=logger)
        return model

    def load_checkpoint(self, path, strict=True, logger=None):
        return load_state_into(self, read_state_dict(path), source=path, strict=strict, logger=logger)

    def enable_gradient_checkpointing(self):
        """Per-block recompute for training (the original's --gradient_checkpointing)."""
        self.gradient_checkpointing = True
        for block in list(self.transformer_blocks) + list(self.temporal_transformer_blocks):
            block.recompute()

    def enable_flash_attention(self, enable=True):
        """Ascend only: flash attention in every block (math attention is the default and the reference)."""
        for _, cell in self.cells_and_names():
            if hasattr(cell, "use_flash_attention"):
                cell.use_flash_attention = enable

    # ------------------------------------------------------------------ forward
    def construct(
        self,
        hidden_states,
        timestep,
        encoder_hidden_states,
        encoder_attention_mask=None,
        use_image_num=0,
        enable_temporal_attentions=True,
    ):
        """
        Args:
            hidden_states: (B, C, F, H, W) latents; F = video frames + use_image_num images.
            timestep: (B,) int.
            encoder_hidden_states: (B, L, caption_channels), or (B, 1+n, L, C) for joint image-video training.
            encoder_attention_mask: (B, L) or (B, 1+n, L) 1 keep / 0 pad, or None.
        Returns: (B, out_channels, F, H, W).
        """
        b, _, frames_total, h, w = hidden_states.shape
        frames = frames_total - use_image_num
        joint = use_image_num != 0 and self.training
        if use_image_num != 0 and not self.training:
            raise ValueError("use_image_num > 0 is a training-only path (as in the original)")
        dtype = self.proj_out.weight.dtype
        x = hidden_states.transpose(0, 2, 1, 3, 4).reshape(b * frames_total, -1, h, w)  # (B*F, C, H, W)
        x = self.pos_embed(x.astype(dtype))  # (B*F, N, D)
        num_patches = x.shape[1]
        t6, embedded_timestep = self.adaln_single(timestep, dtype)  # (B, 6D), (B, D)
        context, context_bias = self._caption_tokens(
            encoder_hidden_states, encoder_attention_mask, frames, use_image_num, joint, dtype
        )
        t_spatial = ops.repeat_elements(t6, frames_total, axis=0)  # (B*F, 6D), batch-major
        t_temporal = ops.repeat_elements(t6, num_patches, axis=0)  # (B*N, 6D)
        add_temp_pos_to_video = (not joint) or self.gradient_checkpointing  # upstream quirk (L10)
        for i in range(len(self.transformer_blocks)):
            x = self.transformer_blocks[i](x, context, context_bias, t_spatial)  # (B*F, N, D)
            if enable_temporal_attentions:
                x = x.reshape(b, frames_total, num_patches, -1).transpose(0, 2, 1, 3)
                x = x.reshape(b * num_patches, frames_total, -1)  # (B*N, F, D)
                video, images = x[:, :frames], x[:, frames:]
                if i == 0 and add_temp_pos_to_video:
                    video = video + self.temp_pos_embed.astype(video.dtype)
                video = self.temporal_transformer_blocks[i](video, None, None, t_temporal)
                x = ops.cat((video, images), axis=1) if joint else video
                x = x.reshape(b, num_patches, frames_total, -1).transpose(0, 2, 1, 3)
                x = x.reshape(b * frames_total, num_patches, -1)  # (B*F, N, D)
        emb = ops.repeat_elements(embedded_timestep, frames_total, axis=0)  # (B*F, D)
        shift, scale = ops.chunk(self.scale_shift_table[None] + emb[:, None], 2, axis=1)  # (B*F, 1, D) each
        x = self.proj_out(modulate(self.norm_out(x), shift, scale, self.tile))  # (B*F, N, p*p*C)
        return self._unpatchify(x, b, frames_total, h // self.patch_size, w // self.patch_size)

    def _caption_tokens(self, states, mask, frames, use_image_num, joint, dtype):
        """Project captions once per sample and repeat per frame; mask -> additive bias (N*F, 1, L) (L8, L9)."""
        projected = self.caption_projection(states.astype(dtype))  # (B, L, D) or (B, 1+n, L, D)
        bias = None
        if joint:
            video = ops.repeat_elements(projected[:, :1], frames, axis=1)  # (B, f, L, D)
            projected = ops.cat((video, projected[:, 1:]), axis=1)  # (B, f+n, L, D)
            context = projected.reshape(-1, projected.shape[2], projected.shape[3])  # (B*(f+n), L, D)
            if mask is not None:
                m = (1 - mask.astype(dtype)) * MASK_BIAS  # (B, 1+n, L)
                m = ops.cat((ops.repeat_elements(m[:, :1], frames, axis=1), m[:, 1:]), axis=1)
                bias = m.reshape(-1, 1, m.shape[-1])  # (B*(f+n), 1, L)
        else:
            context = ops.repeat_elements(projected, frames, axis=0)  # (B*F, L, D)
            if mask is not None:
                m = ((1 - mask.astype(dtype)) * MASK_BIAS)[:, None]  # (B, 1, L)
                bias = ops.repeat_elements(m, frames, axis=0)  # (B*F, 1, L)
        return context, bias

    def _unpatchify(self, x, b, frames, h, w):
        """(B*F, h*w, p*p*C) with features ordered (p, q, c) -> (B, C, F, h*p, w*p) (L1)."""
        p, c = self.patch_size, self.out_channels
        # contiguous before the reshape (a reshaped transposed view corrupts the heap in PyNative; opensora_v1_3)
        x = x.reshape(-1, h, w, p, p, c).transpose(0, 5, 1, 3, 2, 4).contiguous()  # nhwpqc -> nchpwq
        x = x.reshape(b, frames, c, h * p, w * p)
        return x.transpose(0, 2, 1, 3, 4)  # (B, C, F, H, W)


def LatteT2V_XL_122(**kwargs):
    return LatteT2V(
        num_layers=28,
        attention_head_dim=72,
        num_attention_heads=16,
        patch_size_t=1,
        patch_size=2,
        norm_type="ada_norm_single",
        caption_channels=4096,
        cross_attention_dim=1152,
        **kwargs,
    )


Latte_models = {"LatteT2V-XL/122": LatteT2V_XL_122}
