"""OpenSoraInpaint_v1_3 (Open-Sora-Plan v1.3.1 opensora_v1_3/modeling_inpaint.py): OpenSoraT2V_v1_3 whose input
carries its conditioning -- (B, 2C + vae_scale_factor_t, T, H, W) = [noisy latents; masked-video latents; the mask
compressed to vae_scale_factor_t channels per latent frame] -- each part patch-embedded, the two conditioning
embeddings through zero-initialised linear layers, and the three summed. The rest is the text-to-video model."""

from mindspore import nn

from .model import OpenSoraT2V_v1_3
from .modules import PatchEmbed2D


class OpenSoraInpaint_v1_3(OpenSoraT2V_v1_3):
    CLASS_NAME = "OpenSoraInpaint_v1_3"
    EXTRA_CONFIG = {"vae_scale_factor_t": 4}

    def __init__(self, config=None, kernels=None, **kwargs):
        super().__init__(config, kernels, **kwargs)
        cfg, hidden = self.config, self.hidden_size
        self.vae_scale_factor_t = cfg["vae_scale_factor_t"]
        # zero_module(nn.Linear(..., bias=False)): a fresh model starts as the text-to-video one
        self.pos_embed_masked_hidden_states = nn.CellList([
            PatchEmbed2D(cfg["patch_size"], cfg["in_channels"], hidden),
            nn.Dense(hidden, hidden, weight_init="zeros", has_bias=False)])
        self.pos_embed_mask = nn.CellList([
            PatchEmbed2D(cfg["patch_size"], self.vae_scale_factor_t, hidden),
            nn.Dense(hidden, hidden, weight_init="zeros", has_bias=False)])
        self.init_kernels()

    @property
    def input_channels(self):
        return 2 * self.config["in_channels"] + self.vae_scale_factor_t

    def embed_latents(self, hidden_states, dtype):
        c = self.config["in_channels"]
        if hidden_states.shape[1] != self.input_channels:
            raise ValueError(f"OpenSoraInpaint_v1_3 takes {self.input_channels} input channels (latents, masked "
                             f"latents, {self.vae_scale_factor_t} mask channels); got {hidden_states.shape[1]}")
        hidden_states = hidden_states.astype(dtype)
        x = self.pos_embed(hidden_states[:, :c])
        masked = self.pos_embed_masked_hidden_states[0](hidden_states[:, c:2 * c])
        masked = self.pos_embed_masked_hidden_states[1](masked)
        mask = self.pos_embed_mask[1](self.pos_embed_mask[0](hidden_states[:, 2 * c:]))
        return x + masked + mask


def OpenSoraInpaint_v1_3_2B_122(**kwargs):
    return OpenSoraInpaint_v1_3(num_layers=32, attention_head_dim=96, num_attention_heads=24, patch_size_t=1,
                                patch_size=2, caption_channels=4096, cross_attention_dim=2304,
                                activation_fn="gelu-approximate", **kwargs)


OpenSoraInpaint_v1_3_models = {"OpenSoraInpaint_v1_3-2B/122": OpenSoraInpaint_v1_3_2B_122}
