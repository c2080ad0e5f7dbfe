"""WF-VAE training objective (Open-Sora-Plan v1.3.1 train_causalvae.py with LPIPSWithDiscriminator3D).

Per batch ONE optimizer step, as the original: on odd steps from `disc_start` on, the discriminator step (on the
detached reconstruction of this batch); on every other step the generator (WF-VAE) step, whose loss sees
`global_step` = this step. The adaptive GAN weight is computed before the compiled generator step from a compiled
forward to the decoder's last layer (conv_out, then the energy-flow skip and the Haar synthesis: `decode_features`),
as the v1.0 task does.

The original's `--wavelet_loss` takes coefficients from a third output of the model's forward, which v1.3.1's
WFVAEModel.forward does not return: its wavelet term is always 0, and so it is here.
"""

import mindspore as ms
from mindspore import nn, ops

from ..backend import kernel_choices
from ..models.fast_ops import accurate_exp
from .trainer import GraphGradStep


class WFVAEReconstruct(nn.Cell):
    """(video, posterior noise) -> (input of the decoder's last layer, posterior KL per sample)."""

    def __init__(self, vae):
        super().__init__(auto_prefix=False)  # parameter names stay the model's own
        self.vae = vae
        self.exp_in_fp64 = kernel_choices().exp_in_fp64  # decided once: the compiled graph cannot ask the context

    def construct(self, video, noise):
        vae = self.vae
        moments = vae.encoder(vae.wavelet_coeffs(video)).astype(ms.float32)
        mean, logvar = ops.chunk(moments, 2, axis=1)
        logvar = ops.clamp(logvar, -30.0, 20.0)  # DiagonalGaussianDistribution, inlined for graph mode
        z = mean + accurate_exp(0.5 * logvar, self.exp_in_fp64) * noise
        # the original's kl() sums dims 1-3 of the 5-D posterior; the loss then sums the rest (/ B): same total
        kl = 0.5 * (ops.pow(mean, 2) + accurate_exp(logvar, self.exp_in_fp64) - 1.0 - logvar).sum(axis=(1, 2, 3))
        return vae.decoder.features(z.astype(video.dtype)), kl


class WFVAELastLayer(nn.Cell):
    """The loss's `last_layer`: decoder features -> reconstructed video; conv_out's weight is the only parameter."""

    def __init__(self, vae):
        super().__init__(auto_prefix=False)
        self.vae = vae

    def construct(self, last_input):
        return self.vae.decode_features(last_input)


class WFVAEGeneratorLoss(nn.Cell):
    """(video, noise, d_weight * disc_factor) -> (loss, reconstruction, nll, kl, g_loss, wl_loss).

    The discriminator always runs (its BatchNorm statistics move in every generator forward, as the original's);
    below disc_start the factor is 0, so g_loss adds nothing, and the trainer logs it as 0 as the original does."""

    def __init__(self, vae, loss):
        super().__init__(auto_prefix=False)
        self.reconstruct, self.last_layer, self.loss = WFVAEReconstruct(vae), WFVAELastLayer(vae), loss

    def construct(self, video, noise, d_weight_factor):
        last_input, kl = self.reconstruct(video, noise)
        use_gan = self.loss.discriminator is not None
        loss, nll_loss, _, kl_loss, g_loss, wl_loss = self.loss.generator_terms(
            video.astype(ms.float32), last_input, self.last_layer, kl, d_weight_factor, use_gan)
        recon = ops.stop_gradient(self.last_layer(last_input).astype(ms.float32))
        return loss, recon, nll_loss, kl_loss, g_loss, wl_loss


class WFVAEDiscriminatorLoss(nn.Cell):
    """(video, reconstruction, disc_factor) -> (d_loss, mean real logit, mean fake logit)."""

    def __init__(self, loss):
        super().__init__(auto_prefix=False)
        self.loss = loss

    def construct(self, video, recon, disc_factor):
        return self.loss.discriminator_terms(video.astype(ms.float32), recon, disc_factor)


class WFVAEForward(nn.Cell):
    """(video, noise) -> (last-layer input, reconstruction): the discriminator step's and d_weight's forward."""

    def __init__(self, vae):
        super().__init__(auto_prefix=False)
        self.reconstruct, self.last_layer = WFVAEReconstruct(vae), WFVAELastLayer(vae)

    def construct(self, video, noise):
        last_input, _ = self.reconstruct(video, noise)
        return last_input, self.last_layer(last_input).astype(ms.float32)


class WFVAETrainingTask:
    """Args:
        vae: the WFVAEModel; loss: LPIPSWithDiscriminator3D (fp32); graph: compile the steps (False: PyNative)."""

    def __init__(self, vae, loss, graph=True):
        self.vae, self.loss, self.graph = vae, loss, graph
        self.use_gan = loss.discriminator is not None
        self.generator = WFVAEGeneratorLoss(vae, loss)
        self.discriminator = WFVAEDiscriminatorLoss(loss) if self.use_gan else None
        self._forward = WFVAEForward(vae)
        if graph:
            self._forward.construct = ms.jit(self._forward.construct)

    def grad_fn(self, loss_cell, params):
        if not self.graph:
            return None
        if loss_cell is self.generator:
            return GraphGradStep(loss_cell, params, "WF-VAE generator step", "~1 min on CPU for the tiny WF-VAE")
        return GraphGradStep(loss_cell, params, "discriminator step", "~30 s on CPU for the tiny WF-VAE")

    def forward(self, video, noise):
        """(last-layer input, reconstruction) without gradients."""
        last_input, recon = self._forward(video, noise)
        return ops.stop_gradient(last_input), ops.stop_gradient(recon)

    def adaptive_weight(self, video, noise):
        """The original's d_weight for this batch: a forward to the last layer, then two small gradients."""
        last_input, _ = self.forward(video, noise)
        return self.loss.adaptive_weight(video.astype(ms.float32), last_input, self.generator.last_layer,
                                         last_weight=self.vae.decoder.conv_out.weight)[0]
