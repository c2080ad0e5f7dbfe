"""Synthetic captioned videos for the bundled demo model: one coloured shape moving across a plain dark background.

Every clip is drawn from (colour, shape, motion) plus nuisance variables (size, lane, speed, background), and
its caption names the three: "a red circle moves from left to right". `HELD_OUT` combinations never appear in
the training split, so the demo model is also evaluated on captions it has not seen as a whole.
"""

import itertools

import numpy as np

# Saturated colours far from the grey backgrounds, so the evaluator can find the shape by chroma alone.
COLOURS = {
    "red": (220, 45, 45),
    "green": (45, 185, 65),
    "blue": (55, 85, 230),
    "yellow": (230, 205, 40),
}
SHAPES = ("circle", "square", "triangle")
# motion name -> unit direction (dx, dy) in image coordinates (y grows downwards)
MOTIONS = {
    "from left to right": (1, 0),
    "from right to left": (-1, 0),
    "from top to bottom": (0, 1),
    "from bottom to top": (0, -1),
}
# Each colour, shape and motion still appears in training; only these 8 of the 48 combinations are held out.
HELD_OUT = (
    ("red", "square", "from top to bottom"),
    ("red", "triangle", "from right to left"),
    ("green", "circle", "from bottom to top"),
    ("green", "triangle", "from left to right"),
    ("blue", "circle", "from top to bottom"),
    ("blue", "square", "from right to left"),
    ("yellow", "circle", "from left to right"),
    ("yellow", "triangle", "from bottom to top"),
)

SUPERSAMPLE = 4  # anti-aliased edges: shapes are drawn at 4x and averaged down


def caption(colour, shape, motion):
    return f"a {colour} {shape} moves {motion}"


def all_combinations():
    return list(itertools.product(COLOURS, SHAPES, MOTIONS))


def split_combinations():
    """(held_in, held_out) lists of (colour, shape, motion)."""
    held_out = [c for c in all_combinations() if c in HELD_OUT]
    held_in = [c for c in all_combinations() if c not in HELD_OUT]
    return held_in, held_out


def _shape_mask(shape, cx, cy, radius, size):
    """Coverage in [0, 1] of a shape centred at (cx, cy) on a size x size grid, anti-aliased."""
    n = size * SUPERSAMPLE
    coords = (np.arange(n, dtype=np.float32) + 0.5) / SUPERSAMPLE
    x, y = coords[None, :] - cx, coords[:, None] - cy
    if shape == "circle":
        inside = x * x + y * y <= radius * radius
    elif shape == "square":
        half = radius * 0.85  # the square's area is close to the circle's
        inside = (np.abs(x) <= half) & (np.abs(y) <= half)
    elif shape == "triangle":
        # upright isosceles triangle: apex at the top, base at the bottom
        top, bottom = -radius, radius * 0.8
        half_width = (y - top) / (bottom - top) * radius
        inside = (y >= top) & (y <= bottom) & (np.abs(x) <= half_width)
    else:
        raise ValueError(f"unknown shape '{shape}'; expected one of {SHAPES}")
    return inside.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))


# One background colour for every clip. The VAE's GroupNorms make a clip's overall brightness hard to learn from
# scratch (a uniform frame normalises to the same features whatever its level; measured: random grey backgrounds
# were still at the dataset-mean reconstruction after 300 steps), and the captions never mention the background.
BACKGROUND = (40, 44, 52)


def _background(size):
    return np.broadcast_to(np.array(BACKGROUND, np.float32), (size, size, 3))


def render_clip(colour, shape, motion, rng, num_frames=17, size=64):
    """uint8 (T, H, W, 3): the shape crosses most of the frame along its motion, at constant speed."""
    radius = rng.uniform(0.13, 0.19) * size
    margin = radius + 2
    # Edge to edge, nearly: the start is then near the caption's starting edge in every clip, so the clips of one
    # caption share a layout that a diffusion model can lay down from noise (0.55-0.8 of the span, with uniform
    # starts, left the direction unlearned; docs/demo_model.md).
    travel = rng.uniform(0.75, 0.95) * (size - 2 * margin)  # distance covered over the clip
    start = rng.uniform(margin, size - margin - travel)
    # The coordinate that stays fixed: near the middle, so that a caption fixes the whole path up to a few pixels
    # (uniform lanes left a 4-layer LatteT2V drawing one shape per frame at unrelated places; docs/demo_model.md).
    lane = size / 2 + rng.uniform(-0.08, 0.08) * size
    dx, dy = MOTIONS[motion]
    along = start + travel * np.linspace(0, 1, num_frames)
    if dx < 0 or dy < 0:  # moving towards smaller coordinates
        along = along[::-1]
    fill = np.array(COLOURS[colour], np.float32) + rng.uniform(-12, 12, size=3)
    background = _background(size)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for t, a in enumerate(along):
        cx, cy = (a, lane) if dx else (lane, a)
        cover = _shape_mask(shape, cx, cy, radius, size)[..., None]
        frames[t] = np.clip(background * (1 - cover) + fill * cover, 0, 255).round().astype(np.uint8)
    return frames


def make_clips(combinations, clips_per_combination, seed, num_frames=17, size=64):
    """Yields (name, caption, (colour, shape, motion), frames) deterministically from seed."""
    rng = np.random.default_rng(seed)
    for colour, shape, motion in combinations:
        for k in range(clips_per_combination):
            name = f"{colour}_{shape}_{motion.replace(' ', '_')}_{k:03d}"
            yield name, caption(colour, shape, motion), (colour, shape, motion), render_clip(
                colour, shape, motion, rng, num_frames, size)
