"""Loss curves as PNG with Pillow only (no matplotlib dependency): one panel per series, min/max labelled."""

import math

from PIL import Image, ImageDraw

PANEL_W, PANEL_H, MARGIN = 480, 150, 36
COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207)]


def plot_curves(path, steps, series, title=""):
    """series: name -> list of floats (same length as steps; None entries are skipped).

    A positive series spanning more than 20x is drawn on a log axis (a loss falling over orders of magnitude is
    otherwise a flat line after the first steps); a long noisy one gets its running mean drawn over it.
    """
    names = [n for n, values in series.items() if any(v is not None for v in values)]
    image = Image.new("RGB", (PANEL_W, max(1, len(names)) * PANEL_H + 24), "white")
    draw = ImageDraw.Draw(image)
    draw.text((8, 4), title, fill="black")
    for row, name in enumerate(names):
        top = 24 + row * PANEL_H
        pts = [(s, v) for s, v in zip(steps, series[name]) if v is not None]
        lo, hi = min(v for _, v in pts), max(v for _, v in pts)
        log = lo > 0 and hi > 20 * lo
        scale = math.log if log else float
        s0, s1 = pts[0][0], max(pts[-1][0], pts[0][0] + 1)
        box = (MARGIN, top + 16, PANEL_W - 8, top + PANEL_H - 14)
        draw.rectangle(box, outline=(180, 180, 180))

        frame = (box, s0, s1, scale(lo), scale(hi), scale)
        color = COLORS[row % len(COLORS)]
        if len(pts) > 1:
            window = len(pts) // 50
            raw = tuple(c + (255 - c) * 2 // 3 for c in color) if window > 1 else color  # pale under the mean
            draw.line(to_pixels(pts, *frame), fill=raw, width=1 if window > 1 else 2)
            if window > 1:
                draw.line(to_pixels(running_mean(pts, window), *frame), fill=color, width=2)
        else:
            x, y = to_pixels(pts, *frame)[0]
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=COLORS[0])
        axis = "  (log axis)" if log else ""
        draw.text((box[0], top + 2), f"{name}  min {lo:.4g}  max {hi:.4g}  last {pts[-1][1]:.4g}{axis}", fill="black")
        draw.text((box[0], box[3] + 1), f"step {s0}", fill=(90, 90, 90))
        draw.text((box[2] - 60, box[3] + 1), f"step {pts[-1][0]}", fill=(90, 90, 90))
    image.save(path)
    return path


def to_pixels(points, box, s0, s1, lo, hi, scale):
    """(step, value) pairs -> pixel coordinates in box; lo/hi are the scaled value range."""
    return [(box[0] + (s - s0) / (s1 - s0) * (box[2] - box[0]),
             box[3] - ((scale(v) - lo) / (hi - lo) if hi > lo else 0.5) * (box[3] - box[1])) for s, v in points]


def running_mean(points, window):
    """(step, value) pairs -> the mean of each value with the window - 1 before it (fewer at the start)."""
    out, total = [], 0.0
    for i, (step, value) in enumerate(points):
        total += value
        if i >= window:
            total -= points[i - window][1]
        out.append((step, total / min(i + 1, window)))
    return out
