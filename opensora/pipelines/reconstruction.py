"""Autoencoder reconstruction (what infer_ae.py runs): encode + decode clips, PSNR/SSIM per clip, side-by-side
source | reconstruction videos, a metrics summary. Settings are a dataclass, so a library user needs no command
line; infer_ae.py builds them from its flags."""

import dataclasses
import json
import os
import time

import numpy as np

from ..utils.errors import UserError


@dataclasses.dataclass
class ReconstructionSettings:
    """Args:
    model_config: autoencoder config (YAML / released config.json) or a released folder (config + weights).
    ckpt_path: weights; optional when `model_config` is a folder holding them.
    ae: autoencoder family (opensora.models.ae.AE_FAMILIES key or a v1.3 `--ae` name such as
        WFVAEModel_D8_4x8x8); "" detects it from the config.
    dtype: compute dtype (mindspore.float32 / float16).
    """

    model_config: str
    ckpt_path: str = ""
    ae: str = ""
    dtype: object = None
    output_path: str = "samples/vae_recons"
    batch_size: int = 1
    enable_tiling: bool = False
    tile_overlap_factor: float = 0.25
    time_chunk_frames: int = 0
    sample_posterior: bool = False
    save_vis: bool = True
    save_format: str = "mp4"
    fps: int = 8


class ReconstructionPipeline:
    """Builds the autoencoder once (`settings`), then `run(paths, load_clip)` reconstructs and writes outputs."""

    def __init__(self, settings, logger):
        self.settings, self.logger = settings, logger
        self.vae = self._build()

    def _build(self):
        import mindspore as ms

        from ..models.ae import load_autoencoder
        from ..utils.amp import apply_precision

        s = self.settings
        if not s.ckpt_path and not os.path.isdir(s.model_config):
            raise UserError("--ckpt_path is required unless --model_config is a released folder with weights")
        vae = load_autoencoder(s.model_config, checkpoint=s.ckpt_path or None, family=s.ae, logger=self.logger)
        vae.set_train(False)
        apply_precision(vae, s.dtype or ms.float32)
        if s.time_chunk_frames:
            try:
                vae.enable_time_chunking(s.time_chunk_frames)
            except ValueError as err:
                raise UserError(f"--time_chunk_frames: {err}") from err
        if s.enable_tiling:
            vae.enable_tiling()
            vae.tile_overlap_factor = s.tile_overlap_factor
        return vae

    def reconstruct(self, x):
        """x (B, 3, T, H, W) in [-1, 1] (numpy) -> reconstruction (B, 3, T', H, W) float32 numpy."""
        import mindspore as ms

        posterior = self.vae.encode(ms.Tensor(x, self.settings.dtype or ms.float32))
        z = posterior.sample() if self.settings.sample_posterior else posterior.mode()
        return self.vae.decode(z).astype(ms.float32).asnumpy()

    def run(self, paths, load_clip):
        """Reconstruct every path (`load_clip(path)` -> (3, T, H, W)); returns the summary dict (metrics.json)."""
        from tqdm import tqdm

        from ..dataset.video_io import side_by_side, tensor_to_frames, write_video
        from ..utils.metrics import video_psnr_ssim
        from ..utils.ms_utils import peak_rss_gb

        s = self.settings
        results, start = [], time.time()
        batches = [paths[i:i + s.batch_size] for i in range(0, len(paths), s.batch_size)]
        for batch_paths in tqdm(batches, desc="reconstruct", unit="batch"):
            x = np.stack([load_clip(p) for p in batch_paths])  # (B, 3, T, H, W)
            recon = self.reconstruct(x)
            for path, src, rec in zip(batch_paths, x, recon):
                src_frames, rec_frames = tensor_to_frames(src), tensor_to_frames(rec)
                psnr, ssim = video_psnr_ssim(src_frames, rec_frames)
                name = os.path.splitext(os.path.basename(path))[0]
                results.append({"file": path, "psnr": psnr, "ssim": ssim})
                self.logger.info(f"{name}: PSNR {psnr:.2f} dB, SSIM {ssim:.4f}")
                if s.save_vis:
                    out = os.path.join(s.output_path, f"{len(results) - 1:03d}-{name}.{s.save_format}")
                    write_video(out, side_by_side(src_frames, rec_frames), fps=s.fps)
        summary = {"num_clips": len(results), "mean_psnr": float(np.mean([r["psnr"] for r in results])),
                   "mean_ssim": float(np.mean([r["ssim"] for r in results])),
                   "seconds": round(time.time() - start, 2), "peak_rss_gb": round(peak_rss_gb(), 2),
                   "clips": results}
        with open(os.path.join(s.output_path, "metrics.json"), "w") as f:
            json.dump(summary, f, indent=2)
        self.logger.info(f"{len(results)} clips: mean PSNR {summary['mean_psnr']:.2f} dB, mean SSIM "
                         f"{summary['mean_ssim']:.4f}, {summary['seconds']} s, peak RSS {summary['peak_rss_gb']} GB "
                         f"-> {s.output_path}")
        return summary
