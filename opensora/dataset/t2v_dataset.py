"""Video + cached-T5 training samples for LatteT2V (webvid csv or PKU json annotations).

A sample: video (3, T, H, W) in [-1, 1]; with `use_image_num` n > 0 also n frames of the same video as images
(3, n, H, W) and the caption repeated: text (1+n, L, D), mask (1+n, L) -- the original's joint training.
"""

import os
from collections import Counter

import numpy as np

from ..utils.errors import UserError
from ..utils.logger import get_logger
from .annotations import embedding_path, read_annotations
from .video_io import (
    VideoReadError,
    check_causal_num_frames,
    count_frames,
    frames_to_tensor,
    preprocess_frames,
    read_video_clip,
)


def video_file(video_folder, video):
    path = os.path.join(video_folder, video)
    return path if os.path.splitext(path)[1] else path + ".mp4"


def load_npz(path, what):
    """An npz cache file read whole; a truncated or damaged one is a ValueError naming it (a skipped sample)."""
    import zipfile

    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise ValueError(f"{path}: damaged {what} file ({str(err)[:120]}); re-create it (infer_t5.py rewrites a "
                         "damaged file)") from err


class TextVideoDataset:
    def __init__(self, data_file_path, video_folder, text_embed_folder, num_frames=17, frame_stride=1, image_size=256,
                 video_column="video", caption_column="caption", flip=False, use_image_num=0, world_size=1,
                 max_bad_samples=20, vae_latent_folder="", caption_dropout=0.0, null_text=None, height=None,
                 width=None, drop_short_ratio=1.0, group_data=False, seed=0, v1_3_resize=False, model_ds_t=1):
        check_causal_num_frames(num_frames)
        self.model_ds_t = model_ds_t  # short clips' latent frames: a multiple of this (the sequence-parallel size)
        rows = read_annotations(data_file_path, video_column, caption_column)
        self.items = [(video_file(video_folder, v), embedding_path(text_embed_folder, v)) for v, _ in rows]
        # cached posteriors (tools/cache_vae_latents.py): no video decoding, fixed clip, no flip
        self.latent_files = [embedding_path(vae_latent_folder, v) for v, _ in rows] if vae_latent_folder else None
        if self.latent_files and use_image_num:
            raise UserError("--vae_latent_folder cannot be combined with --use_image_num")
        if len(self.items) < world_size:
            raise UserError(f"{data_file_path}: {len(self.items)} rows for {world_size} ranks")
        self.num_frames, self.frame_stride, self.image_size = num_frames, frame_stride, image_size
        # v1.3: non-square frames through its CenterCropResizeVideo (crop to the aspect, antialiased bilinear);
        # v1.0: square, the short side to image_size, then a centre crop
        self.height, self.width = height or image_size, width or image_size
        self.v1_3_resize = v1_3_resize
        # v1.3 duration buckets (opensora.dataset.buckets): frames per item, set by preflight
        self.drop_short_ratio, self.group_data, self.seed = drop_short_ratio, group_data, seed
        self.item_frames = [num_frames] * len(self.items)
        self._order_cache = None
        self.duration_summary = ""  # what _plan_durations did, for the run's log
        self.flip, self.use_image_num = flip, use_image_num
        self.max_bad_samples, self.bad_samples = max_bad_samples, 0
        # classifier-free guidance training: a caption is replaced by the empty prompt's embedding (text, mask)
        self.caption_dropout, self.null_text = caption_dropout, null_text
        if caption_dropout > 0 and null_text is None:
            raise ValueError("caption_dropout > 0 needs null_text, the embedding of the empty prompt")

    def __len__(self):
        return len(self.items)

    def preflight(self):
        """Every video and embedding file must exist before training starts; list what is missing."""
        videos = self.latent_files or [v for v, _ in self.items]
        missing_video = [v for v in videos if not os.path.isfile(v)]
        missing_text = [e for _, e in self.items if not os.path.isfile(e)]
        for label, missing, fix in (("latents" if self.latent_files else "videos", missing_video,
                                     "run tools/cache_vae_latents.py" if self.latent_files else "check --video_folder"),
                                    ("text embeddings", missing_text, "run infer_t5.py or check --text_embed_folder")):
            if missing:
                raise UserError(f"{len(missing)} of {len(self.items)} {label} missing (e.g. {missing[0]}); {fix}")
        if self.drop_short_ratio < 1:
            self._plan_durations()
        if self.null_text is not None:
            with np.load(self.items[0][1]) as first:
                cached = first["text_emb"].shape
            if self.null_text[0].shape != cached:
                raise UserError(f"--null_text_embed: empty-prompt embedding {self.null_text[0].shape} but the cached "
                                f"captions are {cached} (embed it with the same --t5_model_dir and --t5_max_length)")

    def _plan_durations(self):
        """v1.3's dynamic frames: a video shorter than num_frames is kept, with probability 1 - drop_short_ratio
        (one draw per video from the seed), at closest_encodable_frames(its length); one too short for that is
        left out. Counted as the original counts them (duration_summary)."""
        from .buckets import closest_encodable_frames

        rng = np.random.default_rng([self.seed, 29])
        kept, frames, short, dropped = [], [], 0, 0
        for item in self.items:
            length = (count_frames(item[0]) - 1) // self.frame_stride + 1  # frames at the stride
            n = self.num_frames
            if length < self.num_frames:
                short += 1
                n = closest_encodable_frames(length, model_ds_t=self.model_ds_t)
                if rng.random() < self.drop_short_ratio or n == -1:
                    dropped += 1
                    continue
            kept.append(item)
            frames.append(n)
        if not kept:
            raise UserError(f"--drop_short_ratio {self.drop_short_ratio}: every video is shorter than --num_frames "
                            f"{self.num_frames} and was dropped")
        self.items, self.item_frames = kept, frames
        self.duration_summary = (f"duration buckets: {short} videos shorter than {self.num_frames} frames, {dropped} "
                                 f"dropped; frame counts {dict(sorted(Counter(frames).items()))}")

    def _load(self, index, rng):
        video_path, emb_path = self.items[index]
        if self.latent_files:
            emb, cached = load_npz(emb_path, "text embedding"), load_npz(self.latent_files[index], "cached latent")
            return {"latent_mean": cached["latent_mean"], "latent_std": cached["latent_std"],
                    "text": emb["text_emb"].astype(np.float32), "mask": emb["mask"].astype(np.int32)}
        frames = read_video_clip(video_path, self.item_frames[index], self.frame_stride, start="random", rng=rng)
        flip = bool(self.flip and rng.random() < 0.5)
        video = frames_to_tensor(self._resize(frames, flip))
        emb = load_npz(emb_path, "text embedding")
        text, mask = emb["text_emb"].astype(np.float32), emb["mask"].astype(np.int32)
        sample = {"video": video, "text": text, "mask": mask}
        if self.use_image_num:
            total = count_frames(video_path)
            picks = np.sort(rng.choice(total, size=self.use_image_num, replace=total < self.use_image_num))
            images = np.concatenate([read_video_clip(video_path, 1, 1, start=int(i)) for i in picks])
            sample["images"] = frames_to_tensor(self._resize(images, flip))
            sample["text"] = np.repeat(text[None], 1 + self.use_image_num, axis=0)
            sample["mask"] = np.repeat(mask[None], 1 + self.use_image_num, axis=0)
        return sample

    def _resize(self, frames, flip):
        if self.v1_3_resize:
            from .center_crop_resize import center_crop_resize

            frames = center_crop_resize(frames, self.height, self.width)
            return np.ascontiguousarray(frames[:, :, ::-1]) if flip else frames
        return preprocess_frames(frames, self.image_size, self.image_size, "center", flip)

    def get(self, index, rng):
        """A sample; an unreadable or short video is skipped (the next one is used), up to `max_bad_samples`."""
        for offset in range(len(self.items)):
            i = (index + offset) % len(self.items)
            if self.item_frames[i] != self.item_frames[index]:
                continue  # a replacement keeps the batch's duration
            try:
                sample = self._load(i, rng)
            except (VideoReadError, OSError, KeyError, ValueError) as err:
                self.bad_samples += 1
                get_logger().warning(f"skipping sample {i} ({self.bad_samples} skipped so far): {err}")
                if self.bad_samples > self.max_bad_samples:
                    raise UserError(f"more than {self.max_bad_samples} unreadable samples; last: {err}") from err
                continue
            # drawn last and only when enabled, so runs without dropout keep their random streams
            if self.caption_dropout > 0 and rng.random() < self.caption_dropout:
                text, mask = self.null_text
                sample["text"] = np.broadcast_to(text, sample["text"].shape).copy()
                sample["mask"] = np.broadcast_to(mask, sample["mask"].shape).copy()
            return sample
        raise UserError("no readable sample in the dataset")

    def epoch_order(self, epoch, seed, global_batch=1):
        """The shuffled sample order of an epoch: a function of (seed, epoch) only, so a resume can rebuild it.
        With --group_data every global batch holds one duration (buckets.grouped_order; it may repeat samples to
        fill a batch, so it can be longer than the dataset)."""
        if self._order_cache and self._order_cache[0] == (epoch, seed, global_batch):
            return self._order_cache[1]
        rng = np.random.default_rng([seed, epoch])
        if self.group_data:
            from .buckets import grouped_order

            order = grouped_order(self.item_frames, global_batch, rng)
        else:
            order = rng.permutation(len(self.items))
        self._order_cache = ((epoch, seed, global_batch), order)
        return order

    def text_width(self):
        """The width of the cached text embeddings (the first file's)."""
        try:
            return int(load_npz(self.items[0][1], "text embedding")["text_emb"].shape[-1])
        except (ValueError, KeyError) as err:
            raise UserError(f"{self.items[0][1]}: {err}") from err

    def mixed_durations(self):
        return len(set(self.item_frames)) > 1

    def batch(self, indices, rngs):
        """Stacked samples; sample k draws its clip start, flip and image frames from rngs[k]."""
        samples = [self.get(int(i), rng) for i, rng in zip(indices, rngs)]
        return {k: np.stack([s[k] for s in samples]) for k in samples[0]}
