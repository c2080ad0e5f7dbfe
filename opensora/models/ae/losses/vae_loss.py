"""The causal VAE's training loss: Open-Sora-Plan v1.0.0 `LPIPSWithDiscriminator`.

Frames are folded into the batch ((B, C, T, H, W) -> (B*T, C, H, W)). Generator loss:
    rec = |x - x_rec| + perceptual_weight * LPIPS(x, x_rec)      (LPIPS per frame, broadcast on every pixel)
    nll = sum(rec / exp(logvar) + logvar) / (B*T);   kl = sum(posterior.kl()) / B
    loss = nll + kl_weight * kl + d_weight * disc_factor * g_loss,   g_loss = -mean(D(x_rec))
with the adaptive d_weight = clamp(|d nll/dW| / (|d g_loss/dW| + 1e-4), 0, 1e4) * disc_weight, W the weight
of the decoder's last conv. Discriminator loss (hinge): disc_factor * 0.5 * (mean(relu(1 - D(x))) +
mean(relu(1 + D(x_rec)))). disc_factor is 0 before `disc_start` (counted in optimizer steps, as the original).
`logvar` is a parameter that the original never optimizes; it stays frozen here too.
"""

import mindspore as ms
from mindspore import Parameter, nn, ops

from .discriminator import NLayerDiscriminator
from .lpips import LPIPS


def fold_frames(x):
    """(B, C, T, H, W) -> (B*T, C, H, W)."""
    b, c, t, h, w = x.shape
    return x.transpose(0, 2, 1, 3, 4).reshape(b * t, c, h, w)


def adaptive_d_weight(loss, inputs, last_input, last_layer, weight):
    """The original's calculate_adaptive_weight for either VAE loss: clamp(|d nll/dW| / (|d g_loss/dW| + 1e-4), 0,
    1e4) * disc_weight, W = `weight` of `last_layer`, from `loss._nll_of_last` and `loss._g_of_last` re-run on the
    detached `last_input`. Returns (d_weight, nll_grad, g_grad)."""
    last_input = ops.stop_gradient(last_input)
    nll_grad = ms.grad(loss._nll_of_last, grad_position=None, weights=[weight])(inputs, last_input, last_layer)[0]
    g_grad = ms.grad(loss._g_of_last, grad_position=None, weights=[weight])(last_input, last_layer)[0]
    d_weight = ops.norm(nll_grad) / (ops.norm(g_grad) + 1e-4)
    d_weight = ops.clamp(d_weight, 0.0, 1e4) * loss.disc_weight
    return ops.stop_gradient(d_weight), nll_grad, g_grad


def hinge_d_loss(logits_real, logits_fake):
    return 0.5 * (ops.relu(1.0 - logits_real).mean() + ops.relu(1.0 + logits_fake).mean())


def vanilla_d_loss(logits_real, logits_fake):
    return 0.5 * (ops.softplus(-logits_real).mean() + ops.softplus(logits_fake).mean())


class LPIPSWithDiscriminator(nn.Cell):
    """Args as the original (`lossconfig` of the model YAML); `use_discriminator=False` builds no discriminator
    (the generator loss is then nll + kl_weight * kl)."""

    def __init__(self, disc_start, logvar_init=0.0, kl_weight=1.0, pixelloss_weight=1.0, perceptual_weight=1.0,
                 disc_num_layers=3, disc_in_channels=3, disc_factor=1.0, disc_weight=1.0, use_actnorm=False,
                 disc_conditional=False, disc_loss="hinge", use_discriminator=True):
        super().__init__()
        if disc_loss not in ("hinge", "vanilla"):
            raise ValueError(f"lossconfig disc_loss {disc_loss!r}: use hinge or vanilla")
        if use_actnorm or disc_conditional:
            raise ValueError("lossconfig: use_actnorm / disc_conditional are not supported (the original never "
                             "uses them)")
        self.kl_weight, self.pixel_weight, self.perceptual_weight = kl_weight, pixelloss_weight, perceptual_weight
        self.perceptual_loss = LPIPS() if perceptual_weight > 0 else None
        self.logvar = Parameter(ms.Tensor(logvar_init, ms.float32), name="logvar", requires_grad=False)
        self.discriminator = NLayerDiscriminator(disc_in_channels, n_layers=disc_num_layers) \
            if use_discriminator else None
        self.disc_start, self.disc_factor, self.disc_weight = disc_start, disc_factor, disc_weight
        self.d_loss_fn = hinge_d_loss if disc_loss == "hinge" else vanilla_d_loss

    def adopted_disc_factor(self, global_step):
        return 0.0 if global_step < self.disc_start else self.disc_factor

    # ------------------------------------------------------------------ terms
    def nll_terms(self, inputs, recon):
        """(nll_loss, rec_loss per-pixel mean, p_loss per frame or None) for folded frames."""
        rec = ops.abs(inputs - recon)
        p_loss = None
        if self.perceptual_loss is not None:
            p_loss = self.perceptual_loss(inputs, recon)
            rec = rec + self.perceptual_weight * p_loss
        nll = rec / ops.exp(self.logvar) + self.logvar
        return nll.sum() / nll.shape[0], rec.mean(), p_loss

    def g_loss(self, recon):
        return -self.discriminator(recon).mean()

    def adaptive_weight(self, inputs, last_input, last_layer):
        """d_weight from the gradient norms of nll and g_loss w.r.t. `last_layer`'s weight, computed by re-running
        the last layer on its (detached) input: the same gradients as autograd.grad through the whole graph,
        since that weight enters the loss only through that layer. The re-run discriminator leaves its
        BatchNorm running statistics alone (the original computes no extra forward).
        Returns (d_weight, nll_grad, g_grad)."""
        return adaptive_d_weight(self, inputs, last_input, last_layer, last_layer.conv.weight)

    def _nll_of_last(self, inputs, last_input, last_layer):
        return self.nll_terms(inputs, fold_frames(last_layer(last_input).astype(ms.float32)))[0]

    def _g_of_last(self, last_input, last_layer):
        recon = fold_frames(last_layer(last_input).astype(ms.float32))
        return -self.discriminator.forward_frozen_stats(recon).mean()

    # ------------------------------------------------------------------ the two losses
    def generator_terms(self, inputs, last_input, last_layer, kl, d_weight_factor, use_gan):
        """optimizer_idx 0, graph-friendly: tensors in, (loss, nll_loss, rec_loss, kl_loss, g_loss) out.

        `last_layer` (the decoder's conv_out) maps `last_input` to the reconstruction; `kl` is posterior.kl();
        `d_weight_factor` = d_weight * disc_factor, computed beforehand (`adaptive_weight`) -- 0 below
        disc_start, where the original's d_weight is multiplied by 0 anyway. g_loss is 0 without `use_gan`."""
        x, recon = fold_frames(inputs), fold_frames(last_layer(last_input).astype(ms.float32))
        nll_loss, rec_loss, _ = self.nll_terms(x, recon)
        kl_loss = kl.sum() / kl.shape[0]
        loss = nll_loss + self.kl_weight * kl_loss
        g_loss = ops.zeros((), ms.float32)
        if use_gan:
            g_loss = self.g_loss(recon)
            loss = loss + d_weight_factor * g_loss
        return loss, nll_loss, rec_loss, kl_loss, g_loss

    def generator_loss(self, inputs, last_input, last_layer, posterior, global_step, compute_d_weight=None):
        """The original's call with a log dict: (loss, {total_loss, logvar, kl_loss, nll_loss, rec_loss,
        [d_weight], disc_factor, g_loss})."""
        disc_factor = self.adopted_disc_factor(global_step)
        use_gan = self.discriminator is not None
        if compute_d_weight is None:
            compute_d_weight = disc_factor > 0
        d_weight = ops.zeros((), ms.float32)
        if use_gan and compute_d_weight:
            d_weight = self.adaptive_weight(fold_frames(inputs), last_input, last_layer)[0]
        loss, nll_loss, rec_loss, kl_loss, g_loss = self.generator_terms(
            inputs, last_input, last_layer, posterior.kl(), d_weight * disc_factor, use_gan)
        log = {"total_loss": loss, "logvar": self.logvar.value(), "kl_loss": kl_loss, "nll_loss": nll_loss,
               "rec_loss": rec_loss}
        if use_gan:
            if compute_d_weight:
                log["d_weight"] = d_weight
            log.update(disc_factor=ms.Tensor(disc_factor, ms.float32), g_loss=g_loss)
        return loss, log

    def discriminator_terms(self, inputs, recon, disc_factor):
        """optimizer_idx 1, graph-friendly: (d_loss, mean real logit, mean fake logit); inputs detached."""
        x, recon = ops.stop_gradient(fold_frames(inputs)), ops.stop_gradient(fold_frames(recon))
        logits_real = self.discriminator(x)  # two calls, as the original: separate BatchNorm batch statistics
        logits_fake = self.discriminator(recon)
        d_loss = disc_factor * self.d_loss_fn(logits_real, logits_fake)
        return d_loss, logits_real.mean(), logits_fake.mean()

    def discriminator_loss(self, inputs, recon, global_step):
        """The original's call with a log dict: (loss, {disc_loss, logits_real, logits_fake})."""
        d_loss, real, fake = self.discriminator_terms(inputs, recon, self.adopted_disc_factor(global_step))
        return d_loss, {"disc_loss": d_loss, "logits_real": real, "logits_fake": fake}
