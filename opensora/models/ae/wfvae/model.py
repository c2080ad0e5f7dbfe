"""WFVAEModel (Open-Sora-Plan v1.3 modeling_wfvae.py) in MindSpore: Wavelet-Flow VAE, 4x time, 8x space.

The video is Haar-transformed (3-D) before the encoder; the encoder's energy-flow paths take the low band through
a 2-D then a 3-D Haar transform, the decoder rebuilds the coefficients the same way and the 3-D synthesis gives the
video. Built from the released config.json; weights from its merged.ckpt (a torch training checkpoint) or a
safetensors / MindSpore .ckpt.
"""

import json
import os

import mindspore as ms
from mindspore import nn, ops

from ....backend import use_kernels
from ....io import load_state_into, map_names, read_state_dict
from ....utils.errors import UserError
from ..distributions import DiagonalGaussianDistribution
from .config import CLASS_NAME, find_weights, load_wfvae_config, normalize_config
from .modules import (
    WAVELET_CELLS,
    AttnBlock3DFix,
    CausalConv3d,
    Conv2d,
    GroupNorm,
    LayerNorm,
    Normalize,
    ResnetBlock2D,
    ResnetBlock3D,
    haar_3d_filters,
    haar_wavelet_3d,
    inverse_haar_wavelet_3d,
    nonlinearity,
    resolve_block,
)

# Where the original's init_from_ckpt finds the weights in a training checkpoint, in its order: the EMA weights
# (when there are any), else state_dict's gen_model, else state_dict, else the file is the state dict.
CHECKPOINT_KEYS = ("ema_state_dict", "state_dict", "gen_model")


def _mid(channels_in, channels, channels_out, dropout, use_attention, norm_type):
    layers = [ResnetBlock3D(channels_in, channels, dropout, norm_type),
              ResnetBlock3D(channels, channels_out, dropout, norm_type)]
    if use_attention:
        layers.insert(1, AttnBlock3DFix(channels, norm_type))
    return nn.SequentialCell(layers)


class Encoder(nn.Cell):
    def __init__(self, latent_dim=8, base_channels=128, num_resblocks=2, energy_flow_hidden_size=64, dropout=0.0,
                 use_attention=True, norm_type="groupnorm", l1_dowmsample_block="Downsample",
                 l1_downsample_wavelet="HaarWaveletTransform2D", l2_dowmsample_block="Spatial2xTime2x3DDownsample",
                 l2_downsample_wavelet="HaarWaveletTransform3D"):
        super().__init__()
        base, flow = base_channels, energy_flow_hidden_size
        self.down1 = nn.SequentialCell([
            Conv2d(24, base, 3, padding=1),
            *[ResnetBlock2D(base, base, dropout, norm_type) for _ in range(num_resblocks)],
            resolve_block(l1_dowmsample_block, "l1_dowmsample_block")(base, base),
        ])
        self.down2 = nn.SequentialCell([
            Conv2d(base + flow, base * 2, 3, padding=1),
            *[ResnetBlock3D(base * 2, base * 2, dropout, norm_type) for _ in range(num_resblocks)],
            resolve_block(l2_dowmsample_block, "l2_dowmsample_block")(base * 2, base * 2),
        ])
        l1_channels = 12 if l1_dowmsample_block == "Downsample" else 24  # the original keys this on the block name
        self.connect_l1 = Conv2d(l1_channels, flow, 3, padding=1)
        self.connect_l2 = Conv2d(24, flow, 3, padding=1)
        self.mid = _mid(base * 2 + flow, base * 4, base * 4, dropout, use_attention, norm_type)
        self.norm_out = Normalize(base * 4, norm_type)
        self.conv_out = CausalConv3d(base * 4, latent_dim * 2, 3, padding=1)
        self.wavelet_tranform_l1 = resolve_block(l1_downsample_wavelet, "l1_downsample_wavelet")()
        self.wavelet_tranform_l2 = resolve_block(l2_downsample_wavelet, "l2_downsample_wavelet")()

    def forward_with_coeffs(self, coeffs):
        """coeffs (B, 24, T, H, W) (the video's 3-D Haar bands) -> moments (B, 2*latent, T', H/4, W/4) and the
        energy-flow coefficients (l1 (B, 12, T, H/2, W/2), l2 (B, 24, T', H/4, W/4)) the wavelet loss compares."""
        l1_coeffs = self.wavelet_tranform_l1(coeffs[:, :3])  # (B, 12, T, H/2, W/2)
        l1 = self.connect_l1(l1_coeffs)  # (B, E, T, H/2, W/2)
        l2_coeffs = self.wavelet_tranform_l2(l1_coeffs[:, :3])  # (B, 24, T', H/4, W/4)
        l2 = self.connect_l2(l2_coeffs)  # (B, E, T', H/4, W/4)
        h = ops.cat((self.down1(coeffs), l1), axis=1)  # (B, base + E, T, H/2, W/2)
        h = ops.cat((self.down2(h), l2), axis=1)  # (B, 2 base + E, T', H/4, W/4)
        h = self.mid(h)  # (B, 4 base, T', H/4, W/4)
        return self.conv_out(nonlinearity(self.norm_out(h))), (l1_coeffs, l2_coeffs)

    def construct(self, coeffs):
        return self.forward_with_coeffs(coeffs)[0]


class Decoder(nn.Cell):
    def __init__(self, latent_dim=8, base_channels=128, num_resblocks=2, dropout=0.0, energy_flow_hidden_size=128,
                 use_attention=True, norm_type="groupnorm", t_interpolation="nearest", connect_res_layer_num=1,
                 l1_upsample_block="Upsample", l1_upsample_wavelet="InverseHaarWaveletTransform2D",
                 l2_upsample_block="Spatial2xTime2x3DUpsample", l2_upsample_wavelet="InverseHaarWaveletTransform3D"):
        super().__init__()
        base, flow = base_channels, energy_flow_hidden_size
        self.energy_flow_hidden_size = flow
        self.conv_in = CausalConv3d(latent_dim, base * 4, 3, padding=1)
        self.mid = _mid(base * 4, base * 4, base * 4 + flow, dropout, use_attention, norm_type)
        self.up2 = nn.SequentialCell([
            *[ResnetBlock3D(base * 4, base * 4, dropout, norm_type) for _ in range(num_resblocks)],
            resolve_block(l2_upsample_block, "l2_upsample_block")(base * 4, base * 4,
                                                                  t_interpolation=t_interpolation),
            ResnetBlock3D(base * 4, base * 4 + flow, dropout, norm_type),
        ])
        self.up1 = nn.SequentialCell([
            *[ResnetBlock3D(base * (4 if i == 0 else 2), base * 2, dropout, norm_type) for i in range(num_resblocks)],
            resolve_block(l1_upsample_block, "l1_upsample_block")(base * 2, base * 2),
            ResnetBlock3D(base * 2, base * 2, dropout, norm_type),
        ])
        self.layer = nn.SequentialCell([ResnetBlock3D(base * (2 if i == 0 else 1), base, dropout, norm_type)
                                        for i in range(2)])
        l1_channels = 12 if l1_upsample_block == "Upsample" else 24  # the original keys this on the block name
        self.connect_l1 = nn.SequentialCell([
            *[ResnetBlock3D(base, base, dropout, norm_type) for _ in range(connect_res_layer_num)],
            Conv2d(base, l1_channels, 3, padding=1),
        ])
        self.connect_l2 = nn.SequentialCell([
            *[ResnetBlock3D(base, base, dropout, norm_type) for _ in range(connect_res_layer_num)],
            Conv2d(base, 24, 3, padding=1),
        ])
        self.norm_out = Normalize(base, norm_type)
        self.conv_out = Conv2d(base, 24, 3, padding=1)
        self.inverse_wavelet_tranform_l1 = resolve_block(l1_upsample_wavelet, "l1_upsample_wavelet")()
        self.inverse_wavelet_tranform_l2 = resolve_block(l2_upsample_wavelet, "l2_upsample_wavelet")()

    def forward_with_coeffs(self, z):
        """z (B, latent, T, h, w) -> the video's 3-D Haar bands (B, 24, 2T-1, 4h, 4w) and the decoder's energy-flow
        coefficients (l1 (B, 12, 2T-1, 2h, 2w) after the l2 reconstruction is added, l2 (B, 24, T, h, w))."""
        last_input, (l1_coeffs, l2_coeffs) = self._features(z)
        return self.tail(last_input), (l1_coeffs, l2_coeffs)

    def _features(self, z):
        flow = self.energy_flow_hidden_size
        h = self.mid(self.conv_in(z))  # (B, 4 base + E, T, h, w)
        l2_coeffs = self.connect_l2(h[:, -flow:])  # (B, 24, T, h, w)
        l2 = self.inverse_wavelet_tranform_l2(l2_coeffs)  # (B, 3, 2T-1, 2h, 2w)
        h = self.up2(h[:, :-flow])  # (B, 4 base + E, 2T-1, 2h, 2w)
        l1_coeffs = self.connect_l1(h[:, -flow:])  # (B, 12, 2T-1, 2h, 2w)
        l1_coeffs = ops.cat((l1_coeffs[:, :3] + l2, l1_coeffs[:, 3:]), axis=1)
        l1 = self.inverse_wavelet_tranform_l1(l1_coeffs)  # (B, 3, 2T-1, 4h, 4w)
        h = self.layer(self.up1(h[:, :-flow]))  # (B, base, 2T-1, 4h, 4w)
        return ops.cat((nonlinearity(self.norm_out(h)), l1), axis=1), (l1_coeffs, l2_coeffs)

    def features(self, z):
        """Everything up to `conv_out`, as one tensor (B, base + 3, 2T-1, 4h, 4w): its features and, in the last 3
        channels, the energy-flow skip `l1` added after it. The training loss's adaptive weight re-runs `tail`."""
        return self._features(z)[0]

    def tail(self, last_input):
        """conv_out of the features, plus the skip on the low band: -> the video's Haar bands (B, 24, ...)."""
        h = self.conv_out(last_input[:, :-3])
        return ops.cat((h[:, :3] + last_input[:, -3:], h[:, 3:]), axis=1)

    def construct(self, z):
        return self.tail(self.features(z))


def _cells(parents):
    for parent in parents:
        for _, cell in parent.cells_and_names():
            yield cell


class WFVAEModel(nn.Cell):
    """Wavelet-Flow video VAE. `encode(x)` -> DiagonalGaussianDistribution; `decode(z)` -> video in [-1, 1].

    Args:
        config: dict of the original constructor arguments (config.json keys).
        kernels: opensora.backend.KernelChoices; default: the current backend's.
    """

    FP32_CELLS = (GroupNorm, LayerNorm)  # the amp keep-list (utils/amp.py)

    def __init__(self, config=None, kernels=None, **kwargs):
        super().__init__()
        self.config = normalize_config({**(config or {}), **kwargs})
        cfg = self.config
        self.scale, self.shift = list(cfg["scale"]), list(cfg["shift"])  # latent normalisation for the denoiser
        self.encoder = Encoder(
            cfg["latent_dim"], cfg["base_channels"], cfg["encoder_num_resblocks"],
            cfg["encoder_energy_flow_hidden_size"], cfg["dropout"], cfg["use_attention"], cfg["norm_type"],
            cfg["l1_dowmsample_block"], cfg["l1_downsample_wavelet"], cfg["l2_dowmsample_block"],
            cfg["l2_downsample_wavelet"])
        self.decoder = Decoder(
            cfg["latent_dim"], cfg["base_channels"], cfg["decoder_num_resblocks"], cfg["dropout"],
            cfg["decoder_energy_flow_hidden_size"], cfg["use_attention"], cfg["norm_type"], cfg["t_interpolation"],
            cfg["connect_res_layer_num"], cfg["l1_upsample_block"], cfg["l1_upsample_wavelet"],
            cfg["l2_upsample_block"], cfg["l2_upsample_wavelet"])
        # Tiling = temporal chunks with the causal cache; sizes hard-coded as the original.
        self.use_tiling = False
        self.t_chunk_enc = 16
        self.t_upsample_times = 4 // 2
        self.t_chunk_dec = 4
        # Cache offsets of the decoder (its chunks overlap by one latent frame): 1 at the latent rate, 2 after up2's
        # time upsampling (the original sets all of up2 to 1, then its last two blocks to 2).
        dec = self.decoder
        self._set_cache_offset([dec.up2, dec.connect_l2, dec.conv_in, dec.mid], 1)
        self._set_cache_offset([dec.up2[-2:], dec.up1, dec.connect_l1, dec.layer], self.t_upsample_times)
        if kernels is not None:
            use_kernels(self, kernels)

    # ------------------------------------------------------------------ construction and loading
    @classmethod
    def from_config_file(cls, path):
        return cls(load_wfvae_config(path))

    @classmethod
    def from_pretrained(cls, folder_or_config, checkpoint=None, strict=True, logger=None, use_ema=True):
        """Build from a released folder (config.json + merged.ckpt, or + diffusion_pytorch_model.safetensors) or
        a config.json plus `checkpoint` (.ckpt torch or MindSpore, .safetensors, .pt)."""
        config_path = folder_or_config
        if os.path.isdir(folder_or_config):
            config_path = os.path.join(folder_or_config, "config.json")
            checkpoint = checkpoint or find_weights(folder_or_config)
        model = cls(load_wfvae_config(config_path))
        if checkpoint:
            model.load_checkpoint(checkpoint, strict=strict, logger=logger, use_ema=use_ema)
        return model

    def load_checkpoint(self, path, strict=True, logger=None, use_ema=True):
        state = read_wfvae_state(path, use_ema=use_ema)
        return load_state_into(self, self.fill_fixed(state), source=path, drop_prefixes=("loss.",), strict=strict,
                               logger=logger)

    def fixed_parameters(self):
        """name -> constant value of every Haar filter (buffers or frozen weights in the original)."""
        fixed = {}
        for prefix, cell in self.cells_and_names():
            if isinstance(cell, WAVELET_CELLS):
                fixed.update({f"{prefix}.{name}": value for name, value in cell.constant_filters().items()})
        return fixed

    def fill_fixed(self, state):
        """`state` plus the Haar filters it lacks, at their constant values: the original's EMA weights hold only
        trainable parameters, and its non-strict load keeps the constructor's filters for the rest."""
        fixed = self.fixed_parameters()
        mapped, _, _ = map_names(state, dict(self.parameters_and_names()).keys(), drop_prefixes=("loss.",))
        return {**state, **{name: value for name, value in fixed.items() if name not in mapped}}

    def save_config(self, folder):
        os.makedirs(folder, exist_ok=True)
        cfg = {"_class_name": CLASS_NAME, **{k: list(v) if isinstance(v, tuple) else v
                                             for k, v in self.config.items()}}
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)

    # ------------------------------------------------------------------ causal cache (the original's helpers)
    @staticmethod
    def _empty_causal_cached(parent):
        for cell in _cells([parent]):
            if hasattr(cell, "causal_cached"):
                cell.causal_cached = None

    def _set_causal_cached(self, enable_cached=True):
        for cell in _cells([self]):
            if hasattr(cell, "enable_cached"):
                cell.enable_cached = enable_cached

    @staticmethod
    def _set_cache_offset(parents, cache_offset=0):
        for cell in _cells(parents):
            if hasattr(cell, "cache_offset"):
                cell.cache_offset = cache_offset

    def enable_tiling(self, use_tiling=True):
        """Encode in chunks of 1 + 16 + 16 ... wavelet frames, decode in chunks of 1 + 4 + 4 ... latent frames
        (+1 overlap), carrying the causal cache between chunks. Norm statistics are per chunk (GroupNorm), so the
        result differs slightly from the untiled one, exactly as in the original."""
        self.use_tiling = use_tiling
        self._set_causal_cached(use_tiling)

    def disable_tiling(self):
        self.enable_tiling(False)

    def enable_time_chunking(self, chunk_frames):
        """The causal VAE's memory option; the WF-VAE's own is `enable_tiling` (temporal chunks, causal cache)."""
        if chunk_frames:
            raise ValueError("the WF-VAE chunks time with its causal cache: use --enable_tiling instead")

    def build_chunk_start_end(self, t, decoder_mode=False):
        start_end, start, end = [[0, 1]], 1, 1
        while start < t:
            end = min(t, end + (self.t_chunk_dec if decoder_mode else self.t_chunk_enc))
            start_end.append([start, end])
            start = end
        return start_end

    # ------------------------------------------------------------------ encode / decode
    def wavelet_coeffs(self, x):
        """x (B, 3, T, H, W) -> its 3-D Haar bands (B, 24, (T-1)//2+1, H/2, W/2), the encoder's input."""
        return haar_wavelet_3d(x, _analysis_filters(x.dtype))

    def encode_moments(self, x):
        """x (B, 3, T, H, W) in [-1, 1], T = 4k+1 -> moments (B, 2*latent_dim, k+1, H/8, W/8)."""
        self._empty_causal_cached(self.encoder)
        coeffs = self.wavelet_coeffs(x)
        if not self.use_tiling:
            return self.encoder(coeffs)
        parts = [self.encoder(coeffs[:, :, s:e]) for s, e in self.build_chunk_start_end(coeffs.shape[2])]
        return ops.cat(parts, axis=2)

    def encode(self, x):
        return DiagonalGaussianDistribution(self.encode_moments(x))

    def decode(self, z):
        """z (B, latent_dim, T', h, w) -> video (B, 3, 4(T'-1)+1, 8h, 8w)."""
        self._empty_causal_cached(self.decoder)
        dec = self._tile_decode(z) if self.use_tiling else self.decoder(z)
        return inverse_haar_wavelet_3d(dec, _synthesis_filters(dec.dtype))

    def _tile_decode(self, z):
        t = z.shape[2]
        parts = []
        for start, end in self.build_chunk_start_end(t, decoder_mode=True):
            overlap = end + 1 < t  # one more latent frame for the time interpolation, its outputs dropped
            chunk = self.decoder(z[:, :, start:end + 1] if overlap else z[:, :, start:end])
            parts.append(chunk[:, :, :-2] if overlap else chunk)
        return ops.cat(parts, axis=2)

    def normalize_latents(self, z):
        """Posterior sample -> the denoiser's latents, as the original's WFVAEModelWrapper.encode: (z - shift) * scale
        per channel (config `shift`, `scale`)."""
        shift, scale = self._latent_stats(z)
        return (z - shift) * scale

    def denormalize_latents(self, latents):
        """The denoiser's latents -> decoder input (WFVAEModelWrapper.decode): latents / scale + shift."""
        shift, scale = self._latent_stats(latents)
        return latents / scale + shift

    def _latent_stats(self, z):
        if not len(self.shift) == len(self.scale) == z.shape[1]:
            raise UserError(f"WF-VAE config: shift ({len(self.shift)}) and scale ({len(self.scale)}) need one entry "
                            f"per latent channel ({z.shape[1]})")
        shape = (1, len(self.shift)) + (1,) * (z.ndim - 2)  # per channel: (1, C, 1, 1, 1)
        return ms.Tensor(self.shift, z.dtype).reshape(shape), ms.Tensor(self.scale, z.dtype).reshape(shape)

    def latent_shape(self, video_shape):
        """(C, T, H, W) of a video -> (latent_dim, T', H', W') of its latent, without running the model."""
        _, t, h, w = video_shape
        return (self.config["latent_dim"], (t - 1) // 4 + 1, h // 8, w // 8)

    def construct(self, x, sample_posterior=True, noise=None):
        posterior = self.encode(x)
        z = posterior.sample(noise) if sample_posterior else posterior.mode()
        return self.decode(z), posterior

    def forward_with_wavelets(self, x, sample_posterior=True, noise=None):
        """(dec, posterior, (enc_l1, dec_l1, enc_l2, dec_l2)): the pairs the WF-VAE wavelet loss compares with L1.

        v1.3.1's forward returns only (dec, posterior), so its training loop's wavelet term is always 0; these are
        the coefficients it was written for (untiled path)."""
        moments, (enc_l1, enc_l2) = self.encoder.forward_with_coeffs(self.wavelet_coeffs(x))
        posterior = DiagonalGaussianDistribution(moments)
        z = posterior.sample(noise) if sample_posterior else posterior.mode()
        dec, (dec_l1, dec_l2) = self.decoder.forward_with_coeffs(z)
        return inverse_haar_wavelet_3d(dec, _synthesis_filters(dec.dtype)), posterior, (enc_l1, dec_l1, enc_l2, dec_l2)

    def decode_features(self, last_input):
        """The decoder's `features` output -> video: its tail and the 3-D Haar synthesis (the loss's last layer)."""
        dec = self.decoder.tail(last_input)
        return inverse_haar_wavelet_3d(dec, _synthesis_filters(dec.dtype))

    def get_last_layer(self):
        """The decoder's last conv weight (the adaptive GAN weight's reference layer)."""
        return self.decoder.conv_out.weight


def read_wfvae_state(path, use_ema=True):
    """name -> array of a WF-VAE checkpoint, picked as the original's init_from_ckpt picks it: a non-empty
    `ema_state_dict` (unless `use_ema` is False: the original's NOT_USE_EMA_MODEL), else `state_dict`'s `gen_model`,
    else `state_dict`, else the file itself. Safetensors and MindSpore .ckpt files are flat already."""
    prefer = CHECKPOINT_KEYS if use_ema else CHECKPOINT_KEYS[1:]
    state = read_state_dict(path, prefer=prefer)
    if not state and use_ema:  # an empty ema_state_dict (a run without --ema): the original falls through
        state = read_state_dict(path, prefer=CHECKPOINT_KEYS[1:])
    if not state:
        raise UserError(f"{path}: holds no weights")
    return state



def _analysis_filters(dtype):
    return ms.Tensor(haar_3d_filters(), dtype)  # (8, 1, 2, 2, 2), a fresh HaarWaveletTransform3D's weights


def _synthesis_filters(dtype):
    return [ms.Tensor(f[None], dtype) for f in haar_3d_filters()]  # a fresh InverseHaarWaveletTransform3D's
