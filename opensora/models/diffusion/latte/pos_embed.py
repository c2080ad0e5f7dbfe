"""Fixed sin-cos position embeddings exactly as Open-Sora-Plan v1.0.0 computes them (utils/pos_embed.py), L2.

numpy on purpose: grids are float32 as upstream, frequencies float64, the result cast to float32.
"""

import numpy as np


def get_1d_sincos_pos_embed_from_grid(embed_dim, pos):
    """pos (M,) -> (M, D): [sin(pos * w) | cos(pos * w)], w_k = 10000^(-k / (D/2)) in float64."""
    if embed_dim % 2:
        raise ValueError("embed_dim must be divisible by 2")
    omega = np.arange(embed_dim // 2, dtype=np.float64) / (embed_dim / 2.0)
    omega = 1.0 / 10000**omega
    out = np.einsum("m,d->md", np.asarray(pos).reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def get_2d_sincos_pos_embed(embed_dim, grid_size, base_size=16, interpolation_scale=1.0):
    """(H*W, D) for a (H, W) patch grid; the FIRST half of the channels encodes the column (W) index."""
    if isinstance(grid_size, int):
        grid_size = (grid_size, grid_size)
    grid_h = np.arange(grid_size[0], dtype=np.float32) / (grid_size[0] / base_size) / interpolation_scale
    grid_w = np.arange(grid_size[1], dtype=np.float32) / (grid_size[1] / base_size) / interpolation_scale
    grid = np.stack(np.meshgrid(grid_w, grid_h), axis=0)  # w first, as upstream
    emb_a = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[0])
    emb_b = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[1])
    return np.concatenate([emb_a, emb_b], axis=1)


def get_1d_sincos_pos_embed(embed_dim, length, interpolation_scale=1.0):
    """Temporal embedding (length, D); positions arange(length) / scale in float32 (a torch division upstream)."""
    pos = (np.arange(length, dtype=np.float32) / np.float32(interpolation_scale)).astype(np.float32)
    return get_1d_sincos_pos_embed_from_grid(embed_dim, pos)
