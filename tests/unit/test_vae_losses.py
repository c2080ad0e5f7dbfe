"""Each term of the VAE loss on hand-made inputs, the discriminator schedule, and LPIPS weight loading."""

import mindspore as ms
import numpy as np
import pytest

from tests.conftest import assert_close, counter_weights, fixture_path


def Identity3d():
    """A 1x1x1 causal conv as "last layer" that passes its input through: the reconstruction is the given tensor."""
    from opensora.models.ae.causal_vae.modules import CausalConv3d

    layer = CausalConv3d(3, 3, 1)
    layer.conv.weight.set_data(ms.Tensor(np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1, 1)))
    layer.conv.bias.set_data(ms.Tensor(np.zeros(3, np.float32)))
    return layer


def make_loss(**kw):
    from opensora.models.ae.losses import LPIPSWithDiscriminator

    params = dict(disc_start=10, kl_weight=0.5, disc_weight=0.5, perceptual_weight=0.0)
    params.update(kw)
    return LPIPSWithDiscriminator(**params)


def inputs(seed=0, shape=(2, 3, 2, 8, 8)):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, shape).astype(np.float32), rng.uniform(-1, 1, shape).astype(np.float32)


def posterior(kl_value):
    """A posterior whose kl() is (B, W) = kl_value per element (mean 0, logvar 0 gives 0; mean m gives m^2/2)."""
    from opensora.models.ae.distributions import DiagonalGaussianDistribution

    mean = np.full((2, 4, 1, 2, 2), np.sqrt(2 * kl_value / 4 / 1 / 2), np.float32)  # summed over dims 1-3
    return DiagonalGaussianDistribution(ms.Tensor(np.concatenate([mean, np.zeros_like(mean)], axis=1)))


def test_l1_nll_and_kl_terms_without_perceptual_or_gan():
    x, y = inputs()
    loss = make_loss(use_discriminator=False)
    value, log = loss.generator_loss(ms.Tensor(x), ms.Tensor(y), Identity3d(), posterior(1.0), global_step=0)
    frames = 2 * 2  # B * T: nll is summed and divided by the folded batch
    nll = np.abs(x - y).sum() / frames
    assert_close(float(log["nll_loss"].asnumpy()), nll, 1e-5, 0, "nll")
    assert_close(float(log["rec_loss"].asnumpy()), np.abs(x - y).mean(), 1e-5, 0, "rec")
    assert_close(float(log["kl_loss"].asnumpy()), 2.0, 1e-5, 0, "kl (per sample, summed over W: 2 x 1.0)")
    assert_close(float(value.asnumpy()), nll + 0.5 * 2.0, 1e-5, 0, "total")
    assert "g_loss" not in log and "d_weight" not in log


def test_logvar_scales_the_nll():
    x, y = inputs(1)
    loss = make_loss(use_discriminator=False, logvar_init=0.5)
    _, log = loss.generator_loss(ms.Tensor(x), ms.Tensor(y), Identity3d(), posterior(0.0), global_step=0)
    pixels = np.abs(x - y)
    expected = (pixels / np.exp(0.5) + 0.5).sum() / 4
    assert_close(float(log["nll_loss"].asnumpy()), expected, 1e-5, 0, "nll with logvar")
    assert not loss.logvar.requires_grad  # never optimised, as in the original


def test_discriminator_factor_switches_on_at_disc_start():
    x, y = inputs(2, (2, 3, 2, 32, 32))  # the PatchGAN needs >= 32 px
    loss = make_loss(disc_start=10)
    loss.discriminator.init_weights(0)
    loss.discriminator.set_train(False)
    before, log_before = loss.generator_loss(ms.Tensor(x), ms.Tensor(y), Identity3d(), posterior(0.0), 9)
    after, log_after = loss.generator_loss(ms.Tensor(x), ms.Tensor(y), Identity3d(), posterior(0.0), 10)
    assert float(log_before["disc_factor"].asnumpy()) == 0.0 and float(log_after["disc_factor"].asnumpy()) == 1.0
    assert "d_weight" not in log_before  # skipped below disc_start: it would be multiplied by 0
    g, dw = float(log_after["g_loss"].asnumpy()), float(log_after["d_weight"].asnumpy())
    assert_close(float(after.asnumpy()), float(before.asnumpy()) + dw * g, 1e-5, 1e-6, "adversarial term")
    d0, _ = loss.discriminator_loss(ms.Tensor(x), ms.Tensor(y), 9)
    d1, dlog = loss.discriminator_loss(ms.Tensor(x), ms.Tensor(y), 10)
    assert float(d0.asnumpy()) == 0.0
    real, fake = float(dlog["logits_real"].asnumpy()), float(dlog["logits_fake"].asnumpy())
    assert float(d1.asnumpy()) > 0 and np.isfinite([real, fake]).all()


def test_hinge_and_vanilla_discriminator_losses():
    from opensora.models.ae.losses.vae_loss import hinge_d_loss, vanilla_d_loss

    real = ms.Tensor(np.array([2.0, 0.5, -1.0], np.float32))
    fake = ms.Tensor(np.array([-2.0, 0.0, 1.0], np.float32))
    expected_hinge = 0.5 * (np.mean([0.0, 0.5, 2.0]) + np.mean([0.0, 1.0, 2.0]))
    assert_close(float(hinge_d_loss(real, fake).asnumpy()), expected_hinge, 1e-6, 0, "hinge")
    sp = lambda v: np.log1p(np.exp(v))  # noqa: E731
    expected_vanilla = 0.5 * (np.mean(sp(-np.array([2.0, 0.5, -1.0]))) + np.mean(sp(np.array([-2.0, 0.0, 1.0]))))
    assert_close(float(vanilla_d_loss(real, fake).asnumpy()), expected_vanilla, 1e-5, 0, "vanilla")


def test_frozen_stats_forward_equals_the_forward_without_touching_running_stats():
    from opensora.models.ae.losses import NLayerDiscriminator

    disc = NLayerDiscriminator()
    disc.init_weights(1)
    x = ms.Tensor(np.random.default_rng(3).standard_normal((4, 3, 32, 32)).astype(np.float32))
    for train in (True, False):
        disc.set_train(train)
        stats = {n: p.asnumpy().copy() for n, p in disc.parameters_and_names() if "moving" in n}
        frozen = disc.forward_frozen_stats(x).asnumpy()
        assert all(np.array_equal(p.asnumpy(), stats[n]) for n, p in disc.parameters_and_names() if "moving" in n)
        assert_close(frozen, disc(x).asnumpy(), 1e-4, 1e-5, f"train={train}")


def test_lpips_is_zero_for_identical_frames_and_positive_otherwise(lpips_ckpt):
    from opensora.models.ae.losses import LPIPS

    lpips = LPIPS()
    lpips.load_weights(lpips_ckpt)
    x, y = inputs(4, (2, 3, 32, 32))
    same = lpips(ms.Tensor(x), ms.Tensor(x)).asnumpy()
    diff = lpips(ms.Tensor(x), ms.Tensor(y)).asnumpy()
    assert same.shape == (2, 1, 1, 1) and np.abs(same).max() < 1e-6 and (diff > 1e-3).all()


def test_lpips_weight_names_from_torchvision_upstream_and_the_original_port():
    from opensora.models.ae.losses.lpips import SLICE_RANGES, canonical_lpips_state

    vgg = counter_weights().vgg16_features_arrays()
    torchvision = canonical_lpips_state(vgg)
    upstream = canonical_lpips_state({f"loss.perceptual_loss.{k}": v for k, v in torchvision.items()})
    renumbered = {}
    for name, value in torchvision.items():  # mindone: each slice's children counted from 0
        _, slice_name, index, leaf = name.split(".")
        start = SLICE_RANGES[int(slice_name[5:]) - 1][0]
        renumbered[f"net.{slice_name}.{int(index) - start}.{leaf}"] = value
    assert "net.slice2.5.weight" in torchvision and len(torchvision) == 26
    for other in (upstream, canonical_lpips_state(renumbered)):
        assert sorted(other) == sorted(torchvision)
        assert all(np.array_equal(other[k], torchvision[k]) for k in other)


def test_lpips_missing_trunk_names_the_conversion_tool(tmp_path):
    from opensora.io import read_state_dict, save_state
    from opensora.models.ae.losses import LPIPS
    from opensora.utils.errors import UserError

    heads_only = tmp_path / "lpips_vgg-426bf45c.ckpt"  # what the original port's download holds
    save_state(read_state_dict(fixture_path("losses", "weights", "lpips_vgg_lin.safetensors")), str(heads_only))
    with pytest.raises(UserError, match="convert_lpips.py"):
        LPIPS().load_weights(str(heads_only))
    with pytest.raises(UserError, match="perceptual_weight: 0"):
        LPIPS().load_weights(str(tmp_path / "missing.ckpt"))


def test_legacy_torch_pth_reads_without_pickle_code():
    """lpips' vgg.pth is a pre-1.6 torch.save file; its tensors equal the safetensors copy."""
    from opensora.io import read_state_dict

    legacy = read_state_dict(fixture_path("losses", "weights", "lpips_v0.1_vgg.pth"))
    ref = read_state_dict(fixture_path("losses", "weights", "lpips_vgg_lin.safetensors"))
    assert sorted(legacy) == sorted(ref) and all(np.array_equal(legacy[k], ref[k]) for k in ref)
