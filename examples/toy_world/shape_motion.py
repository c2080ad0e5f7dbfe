"""Scores a generated toy video against its caption: the moving blob's colour and direction of motion.

Plain computer vision, no learned parts: the shape is the set of saturated pixels (the backgrounds are grey),
its colour is the nearest palette colour to their median, its motion the dominant axis and sign of a straight
line fitted to the per-frame centroids.
"""

import numpy as np

from .toy_shapes import COLOURS, MOTIONS

CHROMA_THRESHOLD = 60  # max - min channel; backgrounds have < 20, palette colours > 140
MIN_BLOB_PIXELS = 6
MIN_TRAVEL_PIXELS = 8  # less than this over the clip counts as "not moving"


def blob_masks(frames):
    """bool (T, H, W): saturated pixels of uint8 (T, H, W, 3) frames."""
    f = frames.astype(np.int16)
    return (f.max(axis=-1) - f.min(axis=-1)) > CHROMA_THRESHOLD


def dominant_colour(frames, masks=None):
    """Nearest palette colour name to the median blob pixel, or None when no blob is found."""
    masks = blob_masks(frames) if masks is None else masks
    if masks.sum() < MIN_BLOB_PIXELS:
        return None
    median = np.median(frames[masks].astype(np.float32), axis=0)
    names = list(COLOURS)
    dists = [np.linalg.norm(median - np.array(COLOURS[n], np.float32)) for n in names]
    return names[int(np.argmin(dists))]


def motion_direction(frames, masks=None):
    """The MOTIONS key of the blob's movement, or None when it is not found or does not move."""
    masks = blob_masks(frames) if masks is None else masks
    times, xs, ys = [], [], []
    for t, m in enumerate(masks):
        if m.sum() >= MIN_BLOB_PIXELS:
            y, x = np.nonzero(m)
            times.append(t)
            xs.append(x.mean())
            ys.append(y.mean())
    if len(times) < 3:
        return None
    span = times[-1] - times[0]
    travel = np.array([np.polyfit(times, xs, 1)[0], np.polyfit(times, ys, 1)[0]]) * (len(frames) - 1)
    if span < (len(frames) - 1) / 2 or np.abs(travel).max() < MIN_TRAVEL_PIXELS:
        return None
    axis = int(np.argmax(np.abs(travel)))
    step = [0, 0]
    step[axis] = int(np.sign(travel[axis]))
    return next(name for name, d in MOTIONS.items() if tuple(d) == tuple(step))


def score_video(frames, colour, motion):
    """dict: predicted colour / motion and whether each (and both) match the caption's."""
    masks = blob_masks(frames)
    got_colour, got_motion = dominant_colour(frames, masks), motion_direction(frames, masks)
    return {"colour": got_colour, "motion": got_motion, "colour_ok": got_colour == colour,
            "motion_ok": got_motion == motion, "ok": got_colour == colour and got_motion == motion}
