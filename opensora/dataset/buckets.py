"""Duration buckets as Open-Sora-Plan v1.3 forms them (opensora/dataset/t2v_datasets.py, utils/dataset_utils.py).

A video shorter than --num_frames is kept (with probability 1 - --drop_short_ratio) at the longest frame count
the VAE encodes exactly (4n+1, at least 29: `find_closest_y`); --group_data then orders an epoch so that every
global batch holds one shape (`get_length_grouped_indices` with group_data): samples grouped by shape, the most
frequent first, shuffled within their group, cut into global batches, the batches shuffled, and a batch that still
mixes shapes filled up from its most frequent one. The original draws with torch's generator; this draws with numpy
from (seed, epoch), so an order is reproducible and a resume rebuilds it.
"""

from collections import Counter

import numpy as np

MIN_DYNAMIC_FRAMES = 29  # find_closest_y's floor


def closest_encodable_frames(length, vae_stride_t=4, min_frames=MIN_DYNAMIC_FRAMES, model_ds_t=1):
    """The longest y <= length with (y - 1) % vae_stride_t == 0, its latent frames (y - 1) // vae_stride_t + 1 a
    multiple of model_ds_t (the sequence-parallel size: the original passes --sp_size) and y >= min_frames; -1
    when there is none."""
    frames = (length - 1) // vae_stride_t * vae_stride_t + 1
    while frames >= min_frames and ((frames - 1) // vae_stride_t + 1) % model_ds_t:
        frames -= vae_stride_t
    return frames if frames >= min_frames else -1


def grouped_order(shapes, global_batch, rng):
    """An epoch's sample order in which each consecutive `global_batch` indices share one shape."""
    counts = Counter(shapes)
    by_shape = {}
    for index, shape in enumerate(shapes):
        by_shape.setdefault(shape, []).append(index)
    ordered = []
    for shape, _ in sorted(counts.items(), key=lambda kv: kv[1], reverse=True):  # most frequent first
        group = by_shape[shape]
        ordered.extend(group[i] for i in rng.permutation(len(group)))
    batches = [ordered[i:i + global_batch] for i in range(0, len(ordered), global_batch)]
    batches = [batches[i] for i in rng.permutation(len(batches))]
    order = []
    for batch in batches:
        batch_counts = Counter(shapes[i] for i in batch)
        majority = max(batch_counts.items(), key=lambda kv: kv[1])[0]
        keep = [i for i in batch if shapes[i] == majority]
        # a short or mixed batch is filled with random picks of its majority shape (last_group_data_fun and
        # split_to_even_chunks' padding), so every global batch is full and of one shape
        fill = [keep[int(k)] for k in rng.integers(0, len(keep), global_batch - len(keep))]
        order.extend(keep + fill)
    return np.asarray(order, np.int64)
