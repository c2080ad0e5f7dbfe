"""Causal VAE training objective (Open-Sora-Plan v1.0.0 CausalVAEModel._training_step_gan).

Per batch: encode, sample the posterior, decode; the generator (VAE) step on LPIPSWithDiscriminator's
optimizer_idx-0 loss, then -- with a discriminator -- the discriminator step on the same (detached)
reconstructions. The original counts `global_step` in optimizer steps: the generator loss of batch k sees 2k and
the discriminator loss 2k + 1 (k without a discriminator), so `disc_start` keeps its meaning.

Both steps can run as compiled MindSpore graphs (`GraphGradStep`), measured several times faster than PyNative
on CPU (docs/performance.md). A graph takes tensors and constants only, so the adaptive weight -- a gradient of
its own, which does not compile inside the step -- is computed before the step, from a compiled forward to the
decoder's last layer.
"""

import mindspore as ms
from mindspore import nn, ops

from ..backend import kernel_choices
from ..models.ae.losses import fold_frames
from ..models.fast_ops import accurate_exp
from .trainer import GraphGradStep


class Reconstruct(nn.Cell):
    """(video, posterior noise) -> (input of the decoder's last layer, posterior KL per sample)."""

    def __init__(self, vae):
        super().__init__(auto_prefix=False)  # parameter names stay the model's own
        self.vae = vae
        self.exp_in_fp64 = kernel_choices().exp_in_fp64  # decided once: the compiled graph cannot ask the context

    def construct(self, video, noise):
        vae = self.vae
        moments = vae.encode_moments(video).astype(ms.float32)
        mean, logvar = ops.chunk(moments, 2, axis=1)
        logvar = ops.clamp(logvar, -30.0, 20.0)  # DiagonalGaussianDistribution, inlined for graph mode
        z = mean + accurate_exp(0.5 * logvar, self.exp_in_fp64) * noise
        kl = 0.5 * (ops.pow(mean, 2) + accurate_exp(logvar, self.exp_in_fp64) - 1.0 - logvar).sum(axis=(1, 2, 3))
        return vae.decoder.features(vae.post_quant_conv(z.astype(video.dtype))), kl


class GeneratorLoss(nn.Cell):
    """(video, posterior noise, d_weight * disc_factor) -> (loss, reconstruction, nll, rec, kl, g_loss)."""

    def __init__(self, vae, loss, use_gan):
        super().__init__(auto_prefix=False)  # parameter names stay the model's own
        self.reconstruct, self.loss, self.use_gan = Reconstruct(vae), loss, use_gan

    def construct(self, video, noise, d_weight_factor):
        feats, kl = self.reconstruct(video, noise)
        last_layer = self.reconstruct.vae.decoder.conv_out
        terms = self.loss.generator_terms(video.astype(ms.float32), feats, last_layer, kl, d_weight_factor,
                                          self.use_gan)
        recon = ops.stop_gradient(last_layer(feats).astype(ms.float32))
        return (terms[0], recon) + terms[1:]


class DiscriminatorLoss(nn.Cell):
    """(video, reconstruction, disc_factor) -> (d_loss, mean real logit, mean fake logit)."""

    def __init__(self, loss):
        super().__init__(auto_prefix=False)  # parameter names stay the model's own
        self.loss = loss

    def construct(self, video, recon, disc_factor):
        return self.loss.discriminator_terms(video.astype(ms.float32), recon, disc_factor)


class VAETrainingTask:
    """Args:
        vae: the CausalVAEModel (amp applied in place for fp16); loss: LPIPSWithDiscriminator (fp32);
        graph: compile the steps (False: PyNative, op by op)."""

    def __init__(self, vae, loss, graph=True):
        self.vae, self.loss, self.graph = vae, loss, graph
        self.use_gan = loss.discriminator is not None
        self.generator = GeneratorLoss(vae, loss, self.use_gan)
        self.discriminator = DiscriminatorLoss(loss) if self.use_gan else None
        self._forward = Reconstruct(vae)
        if graph:
            self._forward.construct = ms.jit(self._forward.construct)

    def grad_fn(self, loss_cell, params):
        if not self.graph:
            return None
        if loss_cell is self.generator:
            return GraphGradStep(loss_cell, params, "causal VAE generator step", "~40 s on CPU for the tiny VAE")
        return GraphGradStep(loss_cell, params, "discriminator step", "~30 s on CPU for the tiny VAE")

    def adaptive_weight(self, video, noise):
        """The original's d_weight for this batch (a forward to the last layer, then two small gradients)."""
        feats, _ = self._forward(video, noise)
        return self.loss.adaptive_weight(fold_frames(video.astype(ms.float32)), feats,
                                         self.vae.decoder.conv_out)[0]
