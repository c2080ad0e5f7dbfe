"""The OpenSoraT2V v1.3 training objective around the model: frozen autoencoder latents (the WF-VAE's posterior
sample, then (z - shift) * scale, as WFVAEModelWrapper.encode), host-drawn timesteps and noise, V1_3Loss.

Timesteps as the original's explicit_uniform_sampling: rank r of n draws from its own n-th of [0, T), so a global
batch covers the schedule evenly; each sample draws from its own generator (seed, epoch, position), so a resumed run
draws what an uninterrupted one does."""

import mindspore as ms
import numpy as np

from ..diffusion.v1_3_loss import V1_3InpaintLoss, V1_3Loss
from .trainer import GraphGradStep


def explicit_uniform_timestep(rng, num_timesteps, world_size, rank):
    """round(U(T/n r - 0.5, T/n (r + 1) - 0.5)) (Python's round: half to even, as numpy's). The original can round
    the top edge to T itself (an index error there, with probability ~0); it is kept at T - 1 here."""
    interval = num_timesteps / world_size
    value = int(np.round(rng.uniform(interval * rank - 0.5, interval * (rank + 1) - 0.5)))
    return min(max(value, 0), num_timesteps - 1)


class V1_3TrainingTask:
    """Args:
        model: OpenSoraT2V_v1_3 (or its amp wrapper); vae: WFVAEModel (or CausalVAEModel), frozen.
        objective: V1_3Objective; noise_offset: the original's --noise_offset (0: off).
        world_size, rank: this run's data-parallel layout (the timestep intervals)."""

    def __init__(self, model, vae, objective, noise_offset=0.0, world_size=1, rank=0, dtype=ms.float32, graph=False,
                 scale_factor=0.18215, masks=None):
        self.model, self.vae, self.objective = model, vae, objective
        self.noise_offset, self.world_size, self.rank, self.dtype = noise_offset, world_size, rank, dtype
        self.scale_factor = scale_factor
        self.masks = masks  # InpaintMasks for OpenSoraInpaint_v1_3, else None
        self.loss = (V1_3InpaintLoss if masks else V1_3Loss)(model, objective.prediction_type)
        self.graph = graph

    def grad_fn(self, params):
        if not self.graph:
            return None
        return GraphGradStep(self.loss, params, "OpenSoraT2V v1.3 train step (loss + gradients)",
                             "~10-30 s on CPU for the tiny models, longer for larger ones")

    def encode(self, batch, rngs):
        """Videos (B, 3, T, H, W) -> the denoiser's latents (B, C, T', H/8, W/8); sample k's posterior noise from
        rngs[k]. For the inpaint model also the condition (B, C + 4, T', h, w) of a mask drawn per sample
        (`self.condition`), as train_inpaint.py's dataset and step build it."""
        latents = self._encode(batch["video"], rngs)
        if self.masks:
            masked, mask = self.masks.apply(batch["video"], rngs)
            self.condition = np.concatenate([self._encode(masked, rngs), mask], axis=1)
        return latents

    def _encode(self, video, rngs):
        first = next(iter(self.vae.get_parameters()))
        posterior = self.vae.encode(ms.Tensor(video, first.dtype))
        noise = np.stack([r.standard_normal(posterior.mean.shape[1:]) for r in rngs]).astype(np.float32)
        sample = posterior.sample(ms.Tensor(noise, posterior.mean.dtype)).astype(ms.float32)
        return self._normalize(sample.asnumpy())

    def _normalize(self, z):
        if hasattr(self.vae, "normalize_latents"):
            return self.vae.normalize_latents(ms.Tensor(np.asarray(z, np.float32))).asnumpy()
        return np.asarray(z, np.float32) * np.float32(self.scale_factor)  # the causal VAE's wrapper

    def draw(self, latents, rngs):
        """-> (t (B,) int32, noise (B, C, T, H, W) with the offset added), each sample from its generator."""
        t = np.array([explicit_uniform_timestep(r, self.objective.num_timesteps, self.world_size, self.rank)
                      for r in rngs], np.int32)
        noise = np.stack([r.standard_normal(latents.shape[1:]) for r in rngs]).astype(np.float32)
        if self.noise_offset:
            offset = np.stack([r.standard_normal(latents.shape[1:2] + (1, 1, 1)) for r in rngs]).astype(np.float32)
            noise = noise + np.float32(self.noise_offset) * offset
        return t, noise

    def loss_inputs(self, latents, t, noise, text, mask):
        """The loss cell's inputs for one batch, as MindSpore tensors."""
        coefficients = self.objective.coefficients(t)
        inputs = (ms.Tensor(latents), ms.Tensor(noise), ms.Tensor(t), *(ms.Tensor(c) for c in coefficients),
                  ms.Tensor(text), ms.Tensor(mask))
        return inputs + (ms.Tensor(self.condition),) if self.masks else inputs


class InpaintMasks:
    """train_inpaint.py's masks: per video a mask type drawn from the mask config's video ratios (normalised; the
    original's default: random_temporal only), its frames given, the rest black (-1 after normalisation).

    Args: ratios {mask type: weight}; min_clear_ratio, max_clear_ratio: the continuation / random masks' range;
    vae_stride (t, h, w)."""

    def __init__(self, ratios=None, min_clear_ratio=0.0, max_clear_ratio=1.0, vae_stride=(4, 8, 8)):
        from ..models.diffusion.opensora_v1_3.masks import MASK_TYPES

        ratios = dict(ratios or {"random_temporal": 1.0})
        unknown = set(ratios) - set(MASK_TYPES)
        if unknown or any(v < 0 for v in ratios.values()):
            raise ValueError(f"mask ratios {ratios}: non-negative weights of {', '.join(MASK_TYPES)}")
        total = sum(ratios.values())
        self.ratios = ({k: 1.0 / len(ratios) for k in ratios} if total == 0 else
                       {k: v / total for k, v in ratios.items()})  # type_ratio_normalize
        self.min_clear_ratio, self.max_clear_ratio, self.vae_stride = min_clear_ratio, max_clear_ratio, vae_stride

    def apply(self, video, rngs):
        """video (B, 3, T, H, W) in [-1, 1] -> (masked video (B, 3, T, H, W), compressed masks (B, 4, T', h, w));
        sample k's mask from a random.Random seeded from rngs[k]."""
        import random

        from ..models.diffusion.opensora_v1_3.masks import choose_mask_type, compress_mask, pixel_mask

        masked, masks = [], []
        for clip, rng in zip(video, rngs):
            draw = random.Random(int(rng.integers(0, 2**62)))
            _, t, h, w = clip.shape
            mask = pixel_mask(choose_mask_type(self.ratios, draw), t, h, w, draw, self.min_clear_ratio,
                              self.max_clear_ratio)  # (T, 1, H, W)
            keep = (mask < 0.5).transpose(1, 0, 2, 3)  # (1, T, H, W)
            masked.append(np.where(keep, clip, np.float32(-1.0)))  # masked uint8 pixels are 0, i.e. -1 here
            masks.append(compress_mask(mask.transpose(1, 0, 2, 3)[None], *self.vae_stride)[0])
        return np.stack(masked).astype(np.float32), np.stack(masks)
