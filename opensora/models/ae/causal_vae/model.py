"""CausalVAEModel (Open-Sora-Plan v1.0.0 modeling_causalvae.py) in MindSpore: 4x time, 8x space.

Built from the released `config.json` (block names as strings) or this repo's YAML model config.
"""

import json
import os

import mindspore as ms
from mindspore import nn, ops

from ....backend import use_kernels
from ....io import load_state_into, read_state_dict
from ..distributions import DiagonalGaussianDistribution
from .config import find_weights, load_vae_config, normalize_config
from .modules import GroupNorm, Normalize, nonlinearity, resolve_block


class _Level(nn.Cell):
    """One resolution level: resnet blocks (+ attention), then the optional spatial and temporal resampling."""

    def __init__(self, blocks, attns, spatial=None, temporal=None, spatial_name="", temporal_name=""):
        super().__init__()
        self.block = nn.CellList(blocks)
        self.attn = nn.CellList(attns)
        # Attribute names are the original's, so parameter names match its state dict.
        setattr(self, spatial_name or "_spatial_unused", spatial)
        setattr(self, temporal_name or "_temporal_unused", temporal)
        self.spatial_name, self.temporal_name = spatial_name, temporal_name

    def construct(self, h):
        for i in range(len(self.block)):
            h = self.block[i](h)
            if len(self.attn) > 0:
                h = self.attn[i](h)
        if self.spatial_name:
            h = getattr(self, self.spatial_name)(h)
        if self.temporal_name:
            h = getattr(self, self.temporal_name)(h)
        return h


class _Mid(nn.Cell):
    def __init__(self, resnet, attention, channels, dropout, groups):
        super().__init__()
        self.block_1 = resnet(in_channels=channels, out_channels=channels, dropout=dropout, norm_num_groups=groups)
        self.attn_1 = attention(channels, norm_num_groups=groups)
        self.block_2 = resnet(in_channels=channels, out_channels=channels, dropout=dropout, norm_num_groups=groups)

    def construct(self, h):
        return self.block_2(self.attn_1(self.block_1(h)))


class Encoder(nn.Cell):
    def __init__(self, cfg):
        super().__init__()
        mult, width, n_res = cfg["hidden_size_mult"], cfg["hidden_size"], cfg["num_res_blocks"]
        self.conv_in = resolve_block(cfg["encoder_conv_in"], "encoder_conv_in")(3, width, 3, padding=1)
        in_mult = (1,) + tuple(mult)
        levels, curr_res = [], cfg["resolution"]
        for i, m in enumerate(mult):
            block_in, block_out = width * in_mult[i], width * m
            resnet = resolve_block(cfg["encoder_resnet_blocks"][i], "encoder_resnet_blocks")
            blocks, attns = [], []
            for _ in range(n_res):
                blocks.append(resnet(in_channels=block_in, out_channels=block_out, dropout=cfg["dropout"],
                                     norm_num_groups=cfg["norm_num_groups"]))
                block_in = block_out
                if curr_res in cfg["attn_resolutions"]:
                    attns.append(resolve_block(cfg["encoder_attention"], "encoder_attention")(
                        block_in, norm_num_groups=cfg["norm_num_groups"]))
            spatial_name, temporal_name = cfg["encoder_spatial_downsample"][i], cfg["encoder_temporal_downsample"][i]
            spatial = resolve_block(spatial_name, "downsample")(block_in, block_in) if spatial_name else None
            temporal = resolve_block(temporal_name, "time_downsample")(block_in, block_in) if temporal_name else None
            if spatial_name:
                curr_res //= 2
            levels.append(_Level(blocks, attns, spatial, temporal, "downsample" if spatial else "",
                                 "time_downsample" if temporal else ""))
        self.down = nn.CellList(levels)
        self.mid = _Mid(resolve_block(cfg["encoder_mid_resnet"], "encoder_mid_resnet"),
                        resolve_block(cfg["encoder_attention"], "encoder_attention"), block_in, cfg["dropout"],
                        cfg["norm_num_groups"])
        self.norm_out = Normalize(block_in, cfg["norm_num_groups"])
        z_out = 2 * cfg["z_channels"] if cfg["double_z"] else cfg["z_channels"]
        self.conv_out = resolve_block(cfg["encoder_conv_out"], "encoder_conv_out")(block_in, z_out, 3, padding=1)

    def construct(self, x):
        h = self.conv_in(x)  # (B, C, T, H, W)
        for level in self.down:
            h = level(h)  # time halves at the levels with TimeDownsample2x (V4)
        h = self.mid(h)
        return self.conv_out(nonlinearity(self.norm_out(h)))  # (B, 2Z, T', H/8, W/8)


class Decoder(nn.Cell):
    def __init__(self, cfg):
        super().__init__()
        mult, width, n_res = cfg["hidden_size_mult"], cfg["hidden_size"], cfg["num_res_blocks"]
        n = len(mult)
        block_in = width * mult[-1]
        curr_res = cfg["resolution"] // 2 ** (n - 1)
        self.conv_in = resolve_block(cfg["decoder_conv_in"], "decoder_conv_in")(cfg["z_channels"], block_in, 3,
                                                                               padding=1)
        self.mid = _Mid(resolve_block(cfg["decoder_mid_resnet"], "decoder_mid_resnet"),
                        resolve_block(cfg["decoder_attention"], "decoder_attention"), block_in, cfg["dropout"],
                        cfg["norm_num_groups"])
        levels = [None] * n
        for i in reversed(range(n)):
            block_out = width * mult[i]
            resnet = resolve_block(cfg["decoder_resnet_blocks"][i], "decoder_resnet_blocks")
            blocks, attns = [], []
            for _ in range(n_res + 1):  # the decoder has one more resnet per level (V4)
                blocks.append(resnet(in_channels=block_in, out_channels=block_out, dropout=cfg["dropout"],
                                     norm_num_groups=cfg["norm_num_groups"]))
                block_in = block_out
                if curr_res in cfg["attn_resolutions"]:
                    attns.append(resolve_block(cfg["decoder_attention"], "decoder_attention")(
                        block_in, norm_num_groups=cfg["norm_num_groups"]))
            spatial_name, temporal_name = cfg["decoder_spatial_upsample"][i], cfg["decoder_temporal_upsample"][i]
            spatial = resolve_block(spatial_name, "upsample")(block_in, block_in) if spatial_name else None
            temporal = resolve_block(temporal_name, "time_upsample")(block_in, block_in) if temporal_name else None
            if spatial_name:
                curr_res *= 2
            levels[i] = _Level(blocks, attns, spatial, temporal, "upsample" if spatial else "",
                               "time_upsample" if temporal else "")
        self.up = nn.CellList(levels)  # indexed by level; run from the last level to the first
        self.norm_out = Normalize(block_in, cfg["norm_num_groups"])
        self.conv_out = resolve_block(cfg["decoder_conv_out"], "decoder_conv_out")(block_in, 3, 3, padding=1)

    def features(self, z):
        """Everything up to `conv_out`: the training loss needs this input of the last layer (adaptive weight)."""
        h = self.mid(self.conv_in(z))  # (B, C, T', H/8, W/8)
        for i in range(len(self.up) - 1, -1, -1):
            h = self.up[i](h)
        return nonlinearity(self.norm_out(h))

    def construct(self, z):
        return self.conv_out(self.features(z))  # (B, 3, T, H, W)


class CausalVAEModel(nn.Cell):
    """Causal video VAE. `encode(x)` -> DiagonalGaussianDistribution; `decode(z)` -> video in [-1, 1].

    Args:
        config: dict of the original constructor arguments (config.json keys).
        kernels: opensora.backend.KernelChoices; default: the current backend's.
    """

    FP32_CELLS = (GroupNorm,)  # the amp keep-list (utils/amp.py)

    def __init__(self, config=None, kernels=None, **kwargs):
        super().__init__()
        self.config = normalize_config({**(config or {}), **kwargs})
        cfg = self.config
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        q_conv = resolve_block(cfg["q_conv"], "q_conv")
        self.quant_conv = q_conv(2 * cfg["z_channels"], 2 * cfg["embed_dim"], 1)
        self.post_quant_conv = q_conv(cfg["embed_dim"], cfg["z_channels"], 1)
        # Tiling (V9): only H and W are tiled; sizes as the original.
        self.tile_sample_min_size = 256
        self.tile_latent_min_size = int(self.tile_sample_min_size / (2 ** (len(cfg["hidden_size_mult"]) - 1)))
        self.tile_overlap_factor = 0.25
        self.use_tiling = False
        # Time chunking (not in the original): long clips in causal chunks of `time_chunk_frames` (4k+1).
        self.time_chunk_frames = 0
        if kernels is not None:
            use_kernels(self, kernels)

    # ------------------------------------------------------------------ construction and loading
    @classmethod
    def from_config_file(cls, path):
        return cls(load_vae_config(path))

    @classmethod
    def from_pretrained(cls, folder_or_config, checkpoint=None, strict=True, logger=None):
        """Build from a released-format folder (config.json + diffusion_pytorch_model.safetensors) or a
        config file plus `checkpoint` (.safetensors/.ckpt/.pt). Training-loss `loss.*` keys are dropped."""
        config_path = folder_or_config
        if os.path.isdir(folder_or_config):
            config_path = os.path.join(folder_or_config, "config.json")
            checkpoint = checkpoint or find_weights(folder_or_config)
        model = cls(load_vae_config(config_path))
        if checkpoint:
            model.load_checkpoint(checkpoint, strict=strict, logger=logger)
        return model

    def load_checkpoint(self, path, strict=True, logger=None):
        return load_state_into(self, read_state_dict(path), source=path, drop_prefixes=("loss.",), strict=strict,
                               logger=logger)

    def save_config(self, folder):
        os.makedirs(folder, exist_ok=True)
        cfg = {"_class_name": "CausalVAEModel", **{k: list(v) if isinstance(v, tuple) else v
                                                   for k, v in self.config.items()}}
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)

    # ------------------------------------------------------------------ tiling switches
    def enable_tiling(self, use_tiling=True):
        self.use_tiling = use_tiling

    def disable_tiling(self):
        self.enable_tiling(False)

    def enable_time_chunking(self, chunk_frames=17):
        """Encode/decode clips longer than `chunk_frames` (4k+1) chunk by chunk, to bound memory.

        Chunk k starts on the last frame of chunk k-1, so each chunk's first latent frame (that shared frame,
        encoded like an image) is dropped and the rest line up with the untiled latents. The seams are not
        exact: the causal context before a chunk is replaced by first-frame padding, and the released
        AttnBlock3D mixes frames within a chunk (docs/performance.md gives the measured difference).
        """
        if chunk_frames and (chunk_frames < 5 or (chunk_frames - 1) % 4):
            raise ValueError(f"time chunk of {chunk_frames} frames: must be 4k+1 and >= 5")
        self.time_chunk_frames = chunk_frames

    # ------------------------------------------------------------------ encode / decode
    def encode_moments(self, x):
        """x (B, 3, T, H, W) in [-1, 1] -> moments (B, 2*embed_dim, T', H/8, W/8)."""
        chunk = self.time_chunk_frames
        if chunk and x.shape[2] > chunk:
            starts = range(0, x.shape[2] - 1, chunk - 1)
            parts = [self._encode_spatial(x[:, :, start:start + chunk]) for start in starts]
            return ops.cat([parts[0]] + [p[:, :, 1:] for p in parts[1:]], axis=2)
        return self._encode_spatial(x)

    def _encode_spatial(self, x):
        if self.use_tiling and (x.shape[-1] > self.tile_sample_min_size or x.shape[-2] > self.tile_sample_min_size):
            return self._tiled(x, self._encode_tile, self.tile_sample_min_size, self.tile_latent_min_size)
        return self._encode_tile(x)

    def encode(self, x):
        return DiagonalGaussianDistribution(self.encode_moments(x))

    def latent_shape(self, video_shape):
        """(C, T, H, W) of a video -> (embed_dim, T', H', W') of its latent, without running the model."""
        cfg = self.config
        t_down = sum(1 for name in cfg["encoder_temporal_downsample"] if name)
        s_down = 2 ** sum(1 for name in cfg["encoder_spatial_downsample"] if name)
        _, t, h, w = video_shape
        return (cfg["embed_dim"], (t - 1) // 2**t_down + 1, h // s_down, w // s_down)

    def decode(self, z):
        """z (B, embed_dim, T', h, w) -> video (B, 3, T, 8h, 8w)."""
        latent_chunk = (self.time_chunk_frames - 1) // 4 + 1 if self.time_chunk_frames else 0
        if latent_chunk and z.shape[2] > latent_chunk:
            starts = range(0, z.shape[2] - 1, latent_chunk - 1)
            parts = [self._decode_spatial(z[:, :, s : s + latent_chunk]) for s in starts]
            return ops.cat([parts[0]] + [p[:, :, 1:] for p in parts[1:]], axis=2)
        return self._decode_spatial(z)

    def _decode_spatial(self, z):
        if self.use_tiling and (z.shape[-1] > self.tile_latent_min_size or z.shape[-2] > self.tile_latent_min_size):
            return self._tiled(z, self._decode_tile, self.tile_latent_min_size, self.tile_sample_min_size)
        return self._decode_tile(z)

    def construct(self, x, sample_posterior=True):
        posterior = self.encode(x)
        z = posterior.sample() if sample_posterior else posterior.mode()
        return self.decode(z), posterior

    def _encode_tile(self, x):
        return self.quant_conv(self.encoder(x))

    def _decode_tile(self, z):
        return self.decoder(self.post_quant_conv(z))

    def _tiled(self, x, fn, in_tile, out_tile):
        """Original tiled_encode2d / tiled_decode2d: overlapping H/W tiles, linear blends, cropped tiles.

        The original blends in place, so the upper/left neighbour used in a blend is the already-blended
        tile; storing each blended tile back into `rows` reproduces that.
        """
        stride = int(in_tile * (1 - self.tile_overlap_factor))
        blend = int(out_tile * self.tile_overlap_factor)
        limit = out_tile - blend
        rows = [
            [fn(x[:, :, :, i : i + in_tile, j : j + in_tile]) for j in range(0, x.shape[4], stride)]
            for i in range(0, x.shape[3], stride)
        ]
        result_rows = []
        for i, row in enumerate(rows):
            for j in range(len(row)):
                tile = row[j]
                if i > 0:
                    tile = blend_v(rows[i - 1][j], tile, blend)
                if j > 0:
                    tile = blend_h(row[j - 1], tile, blend)
                row[j] = tile
            result_rows.append(ops.cat([t[:, :, :, :limit, :limit] for t in row], axis=4))
        return ops.cat(result_rows, axis=3)


def _ramp(extent, dtype):
    import numpy as np

    return ms.Tensor(np.arange(extent, dtype=np.float64) / extent, dtype)


def blend_v(a, b, extent):
    """Linear ramp from the bottom rows of `a` into the top rows of `b` (returns the new `b`)."""
    extent = min(a.shape[3], b.shape[3], extent)
    if extent == 0:
        return b
    w = _ramp(extent, b.dtype).reshape(1, 1, 1, extent, 1)
    head = a[:, :, :, a.shape[3] - extent :] * (1 - w) + b[:, :, :, :extent] * w
    return ops.cat((head, b[:, :, :, extent:]), axis=3)


def blend_h(a, b, extent):
    """Linear ramp from the right columns of `a` into the left columns of `b` (returns the new `b`)."""
    extent = min(a.shape[4], b.shape[4], extent)
    if extent == 0:
        return b
    w = _ramp(extent, b.dtype).reshape(1, 1, 1, 1, extent)
    head = a[:, :, :, :, a.shape[4] - extent :] * (1 - w) + b[:, :, :, :, :extent] * w
    return ops.cat((head, b[:, :, :, :, extent:]), axis=4)
