"""Image-to-video, transitions and video continuation as Open-Sora-Plan v1.3's OpenSoraInpaintPipeline
(opensora/sample/pipeline_inpaint.py) with OpenSoraInpaint_v1_3.

The given frames -- one image (i2v: frame 0), two (transition: first and last), several at given indices, or the
first frames of a video (continuation) -- are resized as the original (centre crop to the asked size with
--crop_for_hw; otherwise to at most max_hxw pixels, cropped to multiples of 32), placed in an otherwise black
clip, encoded by the VAE (a posterior sample, normalised), and handed to the model at every step beside the
compressed mask of which frames are given. The rest is OpenSoraPipeline's.
"""

import os
import random

import mindspore as ms
import numpy as np

from ..dataset.center_crop_resize import center_crop_resize
from ..models.diffusion.opensora_v1_3.masks import compress_mask, pixel_mask
from ..utils.errors import UserError
from .pipeline_opensora import MAX_SEQUENCE_LENGTH, OpenSoraPipeline

# the original's is_image_file / is_video_file
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".flv", ".wmv", ".webm", ".mpeg", ".mpg", ".3gp")
MAX_HXW = 236544  # 480 x 480, the sample script's --max_hxw
HW_STRIDE = 32
CONTINUATION_RATIO = 0.5  # the pipeline's MaskProcessor(min_clear_ratio=0.5, max_clear_ratio=0.5)


def is_image(path):
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def is_video(path):
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def check_condition_paths(paths, indices=None, flag="--conditional_pixel_values_path"):
    """The original's check_inputs, as one-line errors naming the flag and file."""
    if not paths:
        raise UserError(f"{flag}: give one or more images, or one video")
    for path in paths:
        if not (is_image(path) or is_video(path)):
            raise UserError(f"{flag} {path}: not an image ({', '.join(IMAGE_EXTENSIONS)}) or a video "
                            f"({', '.join(VIDEO_EXTENSIONS)})")
        if not os.path.isfile(path):
            raise UserError(f"{flag} {path}: file not found")
    if is_video(paths[0]) and len(paths) > 1:
        raise UserError(f"{flag}: one video, or a list of images (got {len(paths)} files starting with a video)")
    if any(is_video(p) for p in paths[1:]):
        raise UserError(f"{flag}: images and videos cannot be mixed")
    if indices is not None and len(indices) != len(paths):
        raise UserError(f"--conditional_pixel_values_indices: {len(indices)} indices for {len(paths)} images")


def mask_type_and_indices(mask_type, paths, indices, num_frames):
    """get_mask_type_cond_indices: one image -> i2v at [0]; two -> transition at [0, -1]; more -> random_temporal
    at the given indices; a video -> continuation."""
    if is_video(paths[0]):
        return mask_type or "continuation", indices
    if len(paths) == 1:
        return mask_type or "i2v", (indices or [0]) if num_frames > 1 else indices
    if len(paths) == 2:
        return mask_type or "transition", (indices or [0, -1]) if num_frames > 1 else indices
    if num_frames > 1 and indices is None:
        raise UserError("--conditional_pixel_values_indices: give one frame index per image for more than two images")
    return mask_type or "random_temporal", indices


def read_condition(path, num_frames):
    """uint8 (N, H, W, 3): an image (PIL, RGB, as the original) or the first num_frames frames of a video."""
    if is_image(path):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                return np.asarray(image.convert("RGB"))[None]
        except (OSError, UnidentifiedImageError) as err:
            raise UserError(f"--conditional_pixel_values_path {path}: cannot read the image ({err})") from err
    from ..dataset.video_io import VideoReadError, read_video_clip

    try:
        return read_video_clip(path, num_frames, 1, start=0)
    except VideoReadError as err:
        raise UserError(f"--conditional_pixel_values_path {err}") from err


def maxhwresize(height, width, max_hxw):
    if height * width > max_hxw:
        scale = np.sqrt(max_hxw / (height * width))
        return int(height * scale), int(width * scale)
    return height, width


def resize_conditions(frames, height, width, crop_for_hw=True, max_hxw=MAX_HXW):
    """get_resize_transform on every condition -> uint8 (N, h, w, 3), concatenated."""
    if crop_for_hw:
        return np.concatenate([center_crop_resize(f, height, width) for f in frames])
    new_h, new_w = maxhwresize(min(f.shape[1] for f in frames), min(f.shape[2] for f in frames), max_hxw)
    out = []
    for f in frames:
        f = center_crop_resize(f, new_h, new_w)
        th, tw = f.shape[1] // HW_STRIDE * HW_STRIDE, f.shape[2] // HW_STRIDE * HW_STRIDE  # SpatialStrideCropVideo
        if th == 0 or tw == 0:
            raise UserError(f"--max_hxw {max_hxw}: the conditioning images shrink below {HW_STRIDE} pixels")
        top, left = (f.shape[1] - th) // 2, (f.shape[2] - tw) // 2
        out.append(f[:, top:top + th, left:left + tw])
    return np.concatenate(out)


class OpenSoraInpaintPipeline(OpenSoraPipeline):
    """OpenSoraPipeline with OpenSoraInpaint_v1_3 and a VAE that also encodes (the conditioning)."""

    def conditioning(self, frames, mask_type, indices, num_frames, rng, mask_rng=None):
        """-> (masked latents (1, C, T', h, w), compressed mask (1, 4, T', h, w)) of resized uint8 `frames`
        (N, H, W, 3). `rng`: the posterior noise; `mask_rng`: a random.Random for continuation / random masks."""
        n, height, width, _ = frames.shape
        if n == num_frames:  # a video: the mask type decides which of its frames are kept
            mask = pixel_mask(mask_type, num_frames, height, width, mask_rng or random.Random(0),
                              CONTINUATION_RATIO, CONTINUATION_RATIO)
            pixels = frames.astype(np.float32) * (mask < 0.5).transpose(0, 2, 3, 1)
        else:
            pixels = np.zeros((num_frames, height, width, 3), np.float32)
            mask = np.ones((num_frames, 1, height, width), np.float32)
            try:
                pixels[indices] = frames
                mask[indices] = 0
            except IndexError as err:
                raise UserError(f"--conditional_pixel_values_indices {indices}: outside the {num_frames} frames")\
                    from err
            pixels = pixels * (mask < 0.5).transpose(0, 2, 3, 1)
        video = (pixels / np.float32(255.0)) * np.float32(2.0) - np.float32(1.0)  # ToTensorAfterResize, 2x - 1
        video = video.transpose(3, 0, 1, 2)[None]  # (1, 3, T, H, W)
        first = next(iter(self.vae.get_parameters()))
        posterior = self.vae.encode(ms.Tensor(np.ascontiguousarray(video), first.dtype))
        noise = rng.standard_normal(posterior.mean.shape).astype(np.float32)
        z = posterior.sample(ms.Tensor(noise, posterior.mean.dtype))
        masked_latents = self.vae.normalize_latents(z).astype(ms.float32).asnumpy()
        t, h, w = self.vae_scale_factor
        compressed = compress_mask(mask.transpose(1, 0, 2, 3)[None], t, h, w)
        return masked_latents, compressed

    def condition_input(self, frames, mask_type, indices, num_frames, batch, use_cfg, rng, mask_rng=None):
        """The channels appended to every model input: [masked latents; compressed mask], repeated over the batch
        (and its unconditional half)."""
        masked_latents, compressed = self.conditioning(frames, mask_type, indices, num_frames, rng, mask_rng)
        condition = np.concatenate([masked_latents, compressed], axis=1)
        return np.repeat(condition, batch * (2 if use_cfg else 1), axis=0)

    def __call__(self, prompt, conditions, negative_prompt="", mask_type=None, indices=None, crop_for_hw=True,
                 max_hxw=MAX_HXW, num_frames=None, height=None, width=None, num_inference_steps=50,
                 guidance_scale=7.5, guidance_rescale=0.0, num_samples_per_prompt=1, seed=None, latents=None,
                 max_sequence_length=MAX_SEQUENCE_LENGTH, output_type="video", eta=0.0, callback=None,
                 progress=True):
        """`conditions`: image paths or one video path. -> uint8 video (B, T, H, W, 3) at the conditions' size
        (the asked one with crop_for_hw), or the final latents. One numpy stream (`seed`): the initial latents, the
        conditioning's posterior noise, then each ancestral step's noise."""
        cfg = self.transformer.config
        t, h, w = self.vae_scale_factor
        num_frames = num_frames or (cfg["sample_size_t"] - 1) * t + 1
        height = height or cfg["sample_size_h"] * h
        width = width or cfg["sample_size_w"] * w
        frames, mask_type, indices = load_conditions(conditions, mask_type, indices, num_frames, height, width,
                                                     crop_for_hw, max_hxw)
        real_h, real_w = frames.shape[1:3]
        rng = np.random.default_rng(seed)
        use_cfg = guidance_scale > 1.0
        embeds, mask, negative, negative_mask = self.encode_prompt(
            prompt, negative_prompt, num_samples_per_prompt, use_cfg, max_sequence_length)
        self.scheduler.set_timesteps(num_inference_steps)
        start = self.prepare_latents(embeds.shape[0], num_frames, real_h, real_w, rng, latents)
        condition = self.condition_input(frames, mask_type, indices, num_frames, embeds.shape[0], use_cfg, rng,
                                         random.Random(seed))
        final = self.denoise(embeds, mask, negative, negative_mask, start, num_inference_steps, guidance_scale,
                             guidance_rescale, eta, rng, callback, progress, condition=condition)
        return final if output_type == "latents" else self.decode_latents(final, num_frames, real_h, real_w)


def load_conditions(paths, mask_type, indices, num_frames, height, width, crop_for_hw=True, max_hxw=MAX_HXW):
    """Checked, read and resized conditions -> (uint8 frames (N, h, w, 3), mask type, frame indices)."""
    from ..models.diffusion.opensora_v1_3.masks import MASK_TYPES

    check_condition_paths(paths, indices)
    if mask_type is not None and mask_type not in MASK_TYPES:
        raise UserError(f"--mask_type {mask_type}: choose one of {', '.join(MASK_TYPES)}")
    mask_type, indices = mask_type_and_indices(mask_type, paths, indices, num_frames)
    frames = resize_conditions([read_condition(p, num_frames) for p in paths], height, width, crop_for_hw, max_hxw)
    return frames, mask_type, indices
