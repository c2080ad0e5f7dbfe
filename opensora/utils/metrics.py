"""Reconstruction metrics as the original reported them: skimage PSNR/SSIM on uint8 frames, averaged."""

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def video_psnr_ssim(source, reconstruction):
    """Mean per-frame PSNR (dB) and SSIM of two uint8 (T, H, W, C) videos."""
    if source.shape != reconstruction.shape:
        raise ValueError(f"shape mismatch {source.shape} vs {reconstruction.shape}")
    psnrs, ssims = [], []
    for a, b in zip(source, reconstruction):
        if np.array_equal(a, b):
            psnrs.append(float("inf"))
        else:
            psnrs.append(peak_signal_noise_ratio(a, b, data_range=255))
        ssims.append(structural_similarity(a, b, data_range=255, channel_axis=-1))
    return float(np.mean(psnrs)), float(np.mean(ssims))
