"""The WF-VAE's training loss: Open-Sora-Plan v1.3.1 `LPIPSWithDiscriminator3D` (causalvideovae/model/losses).

Same terms and method names as the v1.0 loss (vae_loss.py); what v1.3 changes:
    rec = pix(x, x_rec) + perceptual_weight * LPIPS(x, x_rec)    pix = |.| (loss_type "l1") or (.)^2 ("l2"), per
                                                                  frame (frames folded), LPIPS broadcast per pixel
    nll = sum(rec / exp(logvar) + logvar) / (B*T);   kl = sum(posterior.kl()) / B
    wl = sum|c0 - c1| / B + sum|c2 - c3| / B   (wavelet coefficients, when given; else 0)
    loss = nll + kl_weight * kl + d_weight * disc_factor * g_loss + wavelet_weight * wl,   g_loss = -mean(D(x_rec))
with D the 3-D PatchGAN on the whole (B, C, T, H, W) video and d_weight = clamp(|d nll/dW| / (|d g_loss/dW| +
1e-4), 0, 1e4) * disc_weight (W: the decoder's last layer weight); before disc_start d_weight = g_loss = 0, and
with disc_factor 0 d_weight = 1. Discriminator loss: disc_factor * hinge (or vanilla) on the 5-D logits.
The original's kl() sums dims [1, 2, 3] of the 5-D posterior, leaving (B, W); its sum / B is the sum of all
elements / B, which is what `kl.sum() / kl.shape[0]` gives here too. Its logged `rec_loss` is the nll (not the
pixel term, as v1.0 logs); `pixelloss_weight` is stored and never used, as in the original.
"""


import mindspore as ms
from mindspore import Parameter, nn, ops

from ....backend import kernel_choices
from ...fast_ops import accurate_exp
from .discriminator import NLayerDiscriminator3D
from .lpips import LPIPS
from .vae_loss import adaptive_d_weight, fold_frames, hinge_d_loss, vanilla_d_loss

PIXEL_LOSSES = ("l1", "l2")
D_LOSSES = {"hinge": hinge_d_loss, "vanilla": vanilla_d_loss}
def _last_weight(last_layer):
    """The weight of a conv-out cell (ours wrap the conv as `.conv`, as CausalConv3d, or are the conv)."""
    layer = getattr(last_layer, "conv", last_layer)
    if not isinstance(getattr(layer, "weight", None), Parameter):
        raise TypeError("adaptive_weight: pass last_weight, the Parameter of the decoder's last layer (the callable "
                        f"{type(last_layer).__name__} has no .weight or .conv.weight)")
    return layer.weight


class LPIPSWithDiscriminator3D(nn.Cell):
    """Args as the original's constructor (train_causalvae.py passes disc_start, disc_weight, kl_weight,
    logvar_init, perceptual_weight, loss_type, wavelet_weight), plus `disc_ndf` (the original's fixed 64) and
    `use_discriminator=False` (no discriminator; the generator loss is then nll + kl + wavelet terms).

    The trainer's calls; videos are (B, C, T, H, W) fp32, `last_input` is the input of the decoder's last layer and
    `last_layer(last_input)` the reconstruction (the callable and `last_weight` are described in `adaptive_weight`):
        generator step (the original's optimizer_idx 0), eager:
            loss, log = generator_loss(inputs, last_input, last_layer, posterior, global_step, last_weight,
                                       wavelet_coeffs=None)
        or compiled: d_weight = adaptive_weight(inputs, last_input, last_layer, last_weight)[0] before the step
            (only when global_step >= disc_start and disc_factor > 0; with disc_factor 0 it is 1, before disc_start
            0), then inside it generator_terms(inputs, last_input, last_layer, posterior.kl(),
            d_weight * adopted_disc_factor(global_step), global_step >= disc_start, wavelet_coeffs);
        discriminator step (optimizer_idx 1): discriminator_loss(inputs, recon, global_step), or compiled
            discriminator_terms(inputs, recon, adopted_disc_factor(global_step)).
    The original trainer counts global_step in batches; from disc_start on, odd batches train only the
    discriminator and even ones only the generator.
    """

    def __init__(self, disc_start, logvar_init=0.0, kl_weight=1.0, pixelloss_weight=1.0, perceptual_weight=1.0,
                 disc_num_layers=4, disc_in_channels=3, disc_factor=1.0, disc_weight=1.0, use_actnorm=False,
                 disc_conditional=False, disc_loss="hinge", learn_logvar=False, wavelet_weight=0.01,
                 loss_type="l1", disc_ndf=64, use_discriminator=True):
        super().__init__()
        for name, value, table in (("disc_loss", disc_loss, D_LOSSES), ("loss_type", loss_type, PIXEL_LOSSES)):
            if value not in table:
                raise ValueError(f"lossconfig {name} {value!r}: use one of {sorted(table)}")
        if use_actnorm or disc_conditional:
            raise ValueError("lossconfig: use_actnorm / disc_conditional are not supported (the original raises on "
                             "use_actnorm and ignores disc_conditional)")
        self.kl_weight, self.pixel_weight, self.perceptual_weight = kl_weight, pixelloss_weight, perceptual_weight
        self.wavelet_weight, self.loss_type = wavelet_weight, loss_type
        self.exp_in_fp64 = kernel_choices().exp_in_fp64  # decided once: the compiled graph cannot ask the context
        self.d_loss_fn = D_LOSSES[disc_loss]
        self.perceptual_loss = LPIPS() if perceptual_weight > 0 else None
        # the original's trainer optimizes neither it nor, with learn_logvar, anything that holds it
        self.logvar = Parameter(ms.Tensor(logvar_init, ms.float32), name="logvar", requires_grad=learn_logvar)
        self.discriminator = NLayerDiscriminator3D(disc_in_channels, disc_ndf, disc_num_layers) \
            if use_discriminator else None
        self.disc_start, self.disc_factor, self.disc_weight = disc_start, disc_factor, disc_weight

    def adopted_disc_factor(self, global_step):
        return 0.0 if global_step < self.disc_start else self.disc_factor

    # ------------------------------------------------------------------ terms
    def nll_terms(self, inputs, recon):
        """Folded frames (B*T, C, H, W) -> (nll_loss, rec per-pixel mean, p_loss per frame or None)."""
        rec = self.pixel_loss(inputs, recon)  # (B*T, C, H, W)
        p_loss = None
        if self.perceptual_loss is not None:
            p_loss = self.perceptual_loss(inputs, recon)  # (B*T, 1, 1, 1)
            rec = rec + self.perceptual_weight * p_loss
        nll = rec / accurate_exp(self.logvar, self.exp_in_fp64) + self.logvar
        return nll.sum() / nll.shape[0], rec.mean(), p_loss

    def pixel_loss(self, x, y):
        """|x - y| or (x - y)^2 elementwise (a method, not a stored lambda: graph mode compiles it)."""
        if self.loss_type == "l1":
            return ops.abs(x - y)
        return (x - y) ** 2

    def wavelet_loss(self, wavelet_coeffs, batch):
        """(c0, c1, c2, c3) -> sum|c0 - c1| / batch + sum|c2 - c3| / batch; None -> 0."""
        if wavelet_coeffs is None:
            return ops.zeros((), ms.float32)
        c0, c1, c2, c3 = wavelet_coeffs
        return ops.abs(c0 - c1).sum() / batch + ops.abs(c2 - c3).sum() / batch

    def g_loss(self, recon):
        """-mean(D(recon)) on the video (B, C, T, H, W)."""
        return -self.discriminator(recon).mean()

    def adaptive_weight(self, inputs, last_input, last_layer, last_weight=None):
        """The original's d_weight = clamp(|d nll/dW| / (|d g_loss/dW| + 1e-4), 0, 1e4) * disc_weight.

        Args:
            inputs: the video (B, C, T, H, W).
            last_input: the input of the decoder's last layer (whatever shape it takes); detached here.
            last_layer: a callable (Cell or function) with last_layer(last_input) == the reconstruction
                (B, C, T, H, W), in which `last_weight` is the only trainable parameter that matters: for the WF-VAE,
                conv_out followed by what the decoder does after it (adding the wavelet skip `l1`, computed
                beforehand and detached, and the inverse wavelet transform of the model's decode).
            last_weight: the Parameter W (the original's `last_layer=model.get_last_layer()`, conv_out's weight);
                default `last_layer.conv.weight` or `last_layer.weight`.
        The gradients equal autograd.grad through the whole graph, since W enters the loss only through
        `last_layer`. The re-run discriminator leaves its BatchNorm running statistics alone (the original runs no
        extra forward). Returns (d_weight, nll_grad, g_grad).
        """
        weight = _last_weight(last_layer) if last_weight is None else last_weight
        return adaptive_d_weight(self, fold_frames(inputs), last_input, last_layer, weight)

    def _nll_of_last(self, inputs, last_input, last_layer):
        return self.nll_terms(inputs, fold_frames(last_layer(last_input).astype(ms.float32)))[0]

    def _g_of_last(self, last_input, last_layer):
        return -self.discriminator.forward_frozen_stats(last_layer(last_input).astype(ms.float32)).mean()

    # ------------------------------------------------------------------ the two losses
    def generator_terms(self, inputs, last_input, last_layer, kl, d_weight_factor, use_gan, wavelet_coeffs=None):
        """optimizer_idx 0, graph-friendly: tensors in, (loss, nll_loss, rec_loss, kl_loss, g_loss, wl_loss) out.

        `last_layer(last_input)` is the reconstruction (see `adaptive_weight`); `kl` is posterior.kl();
        `d_weight_factor` = d_weight * disc_factor, computed beforehand; `use_gan` (a Python bool): global_step >=
        disc_start -- without it g_loss is 0, as the original's. The discriminator runs either way when there is
        one (in train mode its forward updates the BatchNorm running statistics, as the original's does).
        rec_loss is the nll, as the original logs it."""
        recon = last_layer(last_input).astype(ms.float32)  # (B, C, T, H, W)
        nll_loss, _, _ = self.nll_terms(fold_frames(inputs), fold_frames(recon))
        kl_loss = kl.sum() / kl.shape[0]
        wl_loss = self.wavelet_loss(wavelet_coeffs, inputs.shape[0])
        loss = nll_loss + self.kl_weight * kl_loss + self.wavelet_weight * wl_loss
        g_loss = ops.zeros((), ms.float32)
        if self.discriminator is not None:
            fake = self.g_loss(recon)
            if use_gan:
                g_loss = fake
                loss = loss + d_weight_factor * g_loss
        return loss, nll_loss, nll_loss, kl_loss, g_loss, wl_loss

    def generator_loss(self, inputs, last_input, last_layer, posterior, global_step, last_weight=None,
                       wavelet_coeffs=None):
        """The original's forward(optimizer_idx=0) with its log dict: (loss, {total_loss, logvar, kl_loss,
        nll_loss, rec_loss, wl_loss, d_weight, disc_factor, g_loss}). Arguments as `adaptive_weight`;
        wavelet_coeffs: (c0, c1, c2, c3) or None (v1.3.1's WFVAEModel.forward returns none, so 0 in its training)."""
        disc_factor = self.adopted_disc_factor(global_step)
        use_gan = self.discriminator is not None and global_step >= self.disc_start
        d_weight = ops.zeros((), ms.float32)
        if use_gan:
            d_weight = self.adaptive_weight(inputs, last_input, last_layer, last_weight)[0] if self.disc_factor > 0 \
                else ops.ones((), ms.float32)
        loss, nll_loss, rec_loss, kl_loss, g_loss, wl_loss = self.generator_terms(
            inputs, last_input, last_layer, posterior.kl(), d_weight * disc_factor, use_gan, wavelet_coeffs)
        log = {"total_loss": loss, "logvar": self.logvar.value(), "kl_loss": kl_loss, "nll_loss": nll_loss,
               "rec_loss": rec_loss, "wl_loss": wl_loss}
        if self.discriminator is not None:
            log.update(d_weight=d_weight, disc_factor=ms.Tensor(disc_factor, ms.float32), g_loss=g_loss)
        return loss, log

    def discriminator_terms(self, inputs, recon, disc_factor):
        """optimizer_idx 1, graph-friendly: videos (B, C, T, H, W) in, detached here; (d_loss, mean real logit,
        mean fake logit) out."""
        logits_real = self.discriminator(ops.stop_gradient(inputs))  # two calls, as the original: separate
        logits_fake = self.discriminator(ops.stop_gradient(recon))  # BatchNorm batch statistics
        d_loss = disc_factor * self.d_loss_fn(logits_real, logits_fake)
        return d_loss, logits_real.mean(), logits_fake.mean()

    def discriminator_loss(self, inputs, recon, global_step):
        """The original's forward(optimizer_idx=1) with its log dict: (loss, {disc_loss, logits_real, logits_fake})."""
        d_loss, real, fake = self.discriminator_terms(inputs, recon, self.adopted_disc_factor(global_step))
        return d_loss, {"disc_loss": d_loss, "logits_real": real, "logits_fake": fake}
