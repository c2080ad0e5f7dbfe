"""Video and image I/O: read clips with decord, resize/crop, convert to model tensors, write mp4/gif.

Layouts: frames are uint8 (T, H, W, C); model tensors are float32 (C, T, H, W) in [-1, 1].
"""

import os

import cv2
import numpy as np

from ..utils.errors import UserError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class VideoReadError(UserError):
    """A video or image that cannot be read, or is too short for the requested clip."""


def clip_span(num_frames, frame_stride):
    """Number of source frames one clip of `num_frames` sampled every `frame_stride` covers."""
    return (num_frames - 1) * frame_stride + 1


class _GifReader:
    """decord cannot decode gif; read it whole with imageio and serve decord's `get_batch` interface."""

    def __init__(self, path):
        import imageio.v2 as imageio

        frames = [np.asarray(f)[..., :3] for f in imageio.mimread(path, memtest=False)]
        self.frames = np.stack([np.repeat(f[..., None], 3, -1) if f.ndim == 2 else f for f in frames])

    def __len__(self):
        return len(self.frames)

    def get_batch(self, indices):
        return _Batch(self.frames[indices])


class _Batch:
    def __init__(self, array):
        self.array = array

    def asnumpy(self):
        return self.array


def _open_video(path):
    import decord

    if not os.path.isfile(path):
        raise VideoReadError(f"{path}: video file not found")
    if path.lower().endswith(".gif"):
        try:
            reader = _GifReader(path)
        except Exception as err:
            raise VideoReadError(f"{path}: cannot decode gif ({str(err).splitlines()[0][:120]})") from err
        return reader, len(reader)
    try:
        reader = decord.VideoReader(path, num_threads=1)
        length = len(reader)
    except Exception as err:  # decord raises its own DECORDError or RuntimeError
        raise VideoReadError(f"{path}: cannot decode video ({str(err).splitlines()[0][:120]}); "
                             "check the file is a complete mp4/avi/mov") from err
    if length == 0:
        raise VideoReadError(f"{path}: video has no frames")
    return reader, length


def count_frames(path):
    return _open_video(path)[1]


def read_video_clip(path, num_frames, frame_stride=1, start=0, rng=None):
    """Read `num_frames` frames, every `frame_stride`-th, as uint8 (T, H, W, C).

    Args:
        start: first frame index, or "random" (uniform over valid starts, drawn from `rng`),
            or "center".
    """
    reader, length = _open_video(path)
    span = clip_span(num_frames, frame_stride)
    if span > length:
        raise VideoReadError(f"{path}: video has {length} frames; num_frames={num_frames} with "
                             f"frame_stride={frame_stride} needs {span}; lower --num_frames or --frame_stride")
    if start == "random":
        rng = rng if rng is not None else np.random.default_rng()
        start = int(rng.integers(0, length - span + 1))
    elif start == "center":
        start = (length - span) // 2
    start = int(start)
    if start < 0 or start + span > length:
        raise VideoReadError(f"{path}: clip start {start} + {span} frames exceeds the video's {length} frames")
    indices = list(range(start, start + span, frame_stride))
    try:
        frames = reader.get_batch(indices).asnumpy()
    except Exception as err:
        raise VideoReadError(f"{path}: cannot decode frames {indices[0]}..{indices[-1]} "
                             f"({str(err).splitlines()[0][:120]})") from err
    return frames


def read_image(path):
    """Read an image as uint8 (1, H, W, C) (an image is a 1-frame video)."""
    if not os.path.isfile(path):
        raise VideoReadError(f"{path}: image file not found")
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise VideoReadError(f"{path}: cannot decode image; check it is a complete jpg/png")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)[None]


def resize_short_side(frames, size):
    """Resize (T, H, W, C) so the short side equals `size` (bicubic, as the original's SmallestMaxSize)."""
    _, h, w, _ = frames.shape
    if min(h, w) == size:
        return frames
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (new_w, new_h), interpolation=interp) for f in frames])


def crop(frames, crop_size, mode="center", rng=None):
    """Crop (T, H, W, C) to a square `crop_size` (int) or (h, w): center or random offset."""
    ch, cw = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
    _, h, w, _ = frames.shape
    if ch > h or cw > w:
        raise UserError(f"--crop_size {crop_size} is larger than the resized frame {h}x{w}; raise --size")
    if mode == "random":
        rng = rng if rng is not None else np.random.default_rng()
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    else:
        top, left = (h - ch) // 2, (w - cw) // 2
    return frames[:, top:top + ch, left:left + cw]


def preprocess_frames(frames, size, crop_size, crop_mode="center", flip=False, rng=None):
    """Resize the short side to `size`, crop to `crop_size`, optional horizontal flip (same for every frame)."""
    frames = crop(resize_short_side(frames, size), crop_size, crop_mode, rng)
    if flip:
        frames = frames[:, :, ::-1]
    return np.ascontiguousarray(frames)


def frames_to_tensor(frames):
    """uint8 (T, H, W, C) -> float32 (C, T, H, W) in [-1, 1]."""
    x = frames.astype(np.float32) / 127.5 - 1.0
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2))


def tensor_to_frames(x):
    """float (C, T, H, W) in [-1, 1] -> uint8 (T, H, W, C), truncating as the original pipeline does."""
    x = np.clip((np.asarray(x, dtype=np.float32) + 1.0) / 2.0, 0.0, 1.0) * 255.0
    return x.astype(np.uint8).transpose(1, 2, 3, 0)


def check_causal_num_frames(num_frames, source="--num_frames"):
    """The causal VAE compresses time 4x keeping frame 0, so clips need T = 4k+1 (1, 5, 9, 17, 33, 65...)."""
    if num_frames < 1 or (num_frames - 1) % 4 != 0:
        lower = max(1, (num_frames - 1) // 4 * 4 + 1)
        raise UserError(f"{source}: {num_frames} frames is not 4k+1 as the causal VAE needs; "
                        f"use {lower} or {lower + 4}")


def is_video_file(path):
    return path.lower().endswith(VIDEO_EXTENSIONS)


def is_image_file(path):
    return path.lower().endswith(IMAGE_EXTENSIONS)


def write_video(path, frames, fps=8):
    """Write uint8 (T, H, W, C) as .mp4 (h264, yuv420p) or .gif, chosen by the extension.

    Written to a temporary name first and renamed, so an interrupted write leaves no partial file.
    """
    import imageio.v2 as imageio

    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4:
        raise ValueError(f"write_video expects uint8 (T, H, W, C), got {frames.dtype} {frames.shape}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ext = os.path.splitext(path)[1].lower()
    tmp = f"{path}.partial{ext}"
    if ext == ".gif":
        imageio.mimsave(tmp, list(frames), duration=1000.0 / fps, loop=0)
    elif ext == ".mp4":
        # h264 with yuv420p needs even sizes; pad by edge replication and let the player show it.
        pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
        if pad_h or pad_w:
            frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        writer = imageio.get_writer(tmp, fps=fps, codec="libx264", macro_block_size=1,
                                    ffmpeg_params=["-crf", "12", "-preset", "medium"], pixelformat="yuv420p",
                                    format="FFMPEG")
        try:
            for frame in frames:
                writer.append_data(frame)
        finally:
            writer.close()
    else:
        raise UserError(f"{path}: unsupported video extension '{ext}'; use .mp4 or .gif")
    os.replace(tmp, path)
    return path


def side_by_side(left, right, gap=4):
    """Concatenate two uint8 (T, H, W, C) videos horizontally with a white gap."""
    spacer = np.full((left.shape[0], left.shape[1], gap, left.shape[3]), 255, dtype=np.uint8)
    return np.concatenate([left, spacer, right], axis=2)
