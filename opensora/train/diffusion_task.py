"""LatteT2V training objective: frozen VAE latents (sampled posterior x 0.18215), t ~ U[0, 1000), IDDPM loss
(mse + vb with learned sigma), averaged over the batch -- as the original train_t2v.py.

The loss is one Cell (IDDPMLoss), so the whole gradient step can be compiled (`--jit`, GraphGradStep)."""

import mindspore as ms
import numpy as np

from ..diffusion.training_loss import IDDPMLoss
from .trainer import GraphGradStep


class DiffusionTrainingTask:
    def __init__(self, latte, vae, diffusion, scale_factor=0.18215, use_image_num=0, dtype=ms.float32, graph=False,
                 timestep_range=None, mse_weight=None):
        self.latte, self.vae, self.diffusion = latte, vae, diffusion
        # t ~ U[low, high); the original's [0, num_timesteps) unless a run narrows it (e.g. to the layout steps)
        self.timestep_range = tuple(timestep_range or (0, diffusion.num_timesteps))
        self.scale_factor, self.use_image_num, self.dtype = scale_factor, use_image_num, dtype
        # (latents, t, noise, text, mask) -> mean loss; mse_weight: optional per-timestep MSE multipliers
        self.loss = IDDPMLoss(latte, diffusion, use_image_num, mse_weight)
        self.graph = graph

    def grad_fn(self, params):
        """The Trainer's gradient function: compiled when `graph`, else None (PyNative value_and_grad)."""
        if not self.graph:
            return None
        return GraphGradStep(self.loss, params, "LatteT2V train step (loss + gradients)",
                             "~10-20 s on CPU for the tiny and demo models, longer for larger ones")

    def encode(self, batch, rngs):
        """Videos (and images, each as a 1-frame clip) -> latents (B, 4, T' [+ n], h, w), outside the gradient.

        Sample k's posterior noise comes from rngs[k], so a sample's latents do not depend on its batch."""
        if "latent_mean" in batch:  # cached posterior: sample it, no VAE run
            noise = np.stack([r.standard_normal(batch["latent_mean"].shape[1:]) for r in rngs]).astype(np.float32)
            return (batch["latent_mean"] + batch["latent_std"] * noise) * np.float32(self.scale_factor)
        latents = self._encode(batch["video"], rngs)
        if self.use_image_num:
            images = batch["images"]  # (B, 3, n, H, W)
            b, c, n, h, w = images.shape
            clips = images.transpose(0, 2, 1, 3, 4).reshape(b * n, c, 1, h, w)
            img_lat = self._encode(clips, [r for r in rngs for _ in range(n)])  # (B*n, 4, 1, h/8, w/8)
            img_lat = img_lat[:, :, 0].reshape(b, n, *img_lat.shape[1:2], *img_lat.shape[3:])  # (B, n, 4, h, w)
            latents = np.concatenate([latents, img_lat.transpose(0, 2, 1, 3, 4)], axis=2)  # frames, then images
        return latents

    def _encode(self, video, rngs):
        vae_dtype = self.vae.encoder.conv_in.conv.weight.dtype
        posterior = self.vae.encode(ms.Tensor(video, vae_dtype))
        noise = np.stack([r.standard_normal(posterior.mean.shape[1:]) for r in rngs]).astype(np.float32)
        sample = posterior.sample(ms.Tensor(noise, posterior.mean.dtype))  # the training wrapper samples
        return sample.astype(ms.float32).asnumpy() * np.float32(self.scale_factor)

    def draw(self, latents, rngs):
        """Per-sample t and noise, drawn on the host from the sample's own generator: a resumed or a
        data-parallel run draws exactly what a single uninterrupted run draws."""
        low, high = self.timestep_range
        t = np.array([r.integers(low, high) for r in rngs], np.int32)
        noise = np.stack([r.standard_normal(latents.shape[1:]) for r in rngs]).astype(np.float32)
        return t, noise
