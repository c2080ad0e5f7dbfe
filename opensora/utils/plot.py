"""Loss curves as PNG with Pillow only (no matplotlib dependency): one panel per series, min/max labelled."""

from PIL import Image, ImageDraw

PANEL_W, PANEL_H, MARGIN = 480, 150, 36
COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207)]


def plot_curves(path, steps, series, title=""):
    """series: name -> list of floats (same length as steps; None entries are skipped)."""
    names = [n for n, values in series.items() if any(v is not None for v in values)]
    image = Image.new("RGB", (PANEL_W, max(1, len(names)) * PANEL_H + 24), "white")
    draw = ImageDraw.Draw(image)
    draw.text((8, 4), title, fill="black")
    for row, name in enumerate(names):
        top = 24 + row * PANEL_H
        pts = [(s, v) for s, v in zip(steps, series[name]) if v is not None]
        lo, hi = min(v for _, v in pts), max(v for _, v in pts)
        s0, s1 = pts[0][0], max(pts[-1][0], pts[0][0] + 1)
        box = (MARGIN, top + 16, PANEL_W - 8, top + PANEL_H - 14)
        draw.rectangle(box, outline=(180, 180, 180))
        xy = [(box[0] + (s - s0) / (s1 - s0) * (box[2] - box[0]),
               box[3] - ((v - lo) / (hi - lo) if hi > lo else 0.5) * (box[3] - box[1])) for s, v in pts]
        if len(xy) > 1:
            draw.line(xy, fill=COLORS[row % len(COLORS)], width=2)
        else:
            draw.ellipse([xy[0][0] - 2, xy[0][1] - 2, xy[0][0] + 2, xy[0][1] + 2], fill=COLORS[0])
        draw.text((box[0], top + 2), f"{name}  min {lo:.4g}  max {hi:.4g}  last {pts[-1][1]:.4g}", fill="black")
        draw.text((box[0], box[3] + 1), f"step {s0}", fill=(90, 90, 90))
        draw.text((box[2] - 60, box[3] + 1), f"step {pts[-1][0]}", fill=(90, 90, 90))
    image.save(path)
    return path
