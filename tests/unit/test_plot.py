"""Loss-curve PNGs (opensora/utils/plot.py): log axis for losses spanning orders of magnitude, running mean."""

import math

import numpy as np
from PIL import Image

from opensora.utils.plot import plot_curves, running_mean, to_pixels


def test_running_mean_averages_the_window_ending_at_each_step():
    points = [(1, 1.0), (2, 3.0), (3, 5.0), (4, 7.0)]
    assert running_mean(points, 2) == [(1, 1.0), (2, 2.0), (3, 4.0), (4, 6.0)]


def test_log_axis_puts_the_geometric_middle_halfway():
    box = (0, 0, 100, 100)
    (_, y_mid), = to_pixels([(1, 10.0)], box, 0, 2, math.log(1.0), math.log(100.0), math.log)
    assert abs(y_mid - 50) < 1e-9


def test_plot_draws_every_series_on_its_own_panel(tmp_path):
    steps = list(range(1, 201))
    loss = [1000 * math.exp(-s / 20) + 1 for s in steps]  # spans ~1000x: log axis
    path = plot_curves(tmp_path / "c.png", steps, {"loss": loss, "kl": [float(s) for s in steps], "none": [None] * 200})
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape == (24 + 2 * 150, 480, 3)  # the all-None series gets no panel
    # on the log axis the decay from 8 to 1 over the second half of the steps is still visible (a linear axis
    # would draw it within 1 pixel of the bottom)
    blue = (np.abs(image.astype(int) - (31, 119, 180)).sum(axis=2) < 30)[24:174]
    columns = np.nonzero(blue.any(axis=0))[0]
    rows_at = [np.nonzero(blue[:, c])[0].mean() for c in columns]
    assert rows_at[-1] - rows_at[len(rows_at) // 2] > 20
