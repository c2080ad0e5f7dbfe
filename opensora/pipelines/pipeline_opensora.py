"""Text-to-video sampling as Open-Sora-Plan v1.3's OpenSoraPipeline (opensora/sample/pipeline_opensora.py), driven as
its sample script drives it (opensora/utils/sample_utils.py).

prompt (as typed: no lower-casing) -> mT5, padded to max_sequence_length, the attention mask kept (not cut) -> CFG
batch [negative; positive] -> per step: scale_model_input, OpenSoraT2V_v1_3, guidance, guidance rescale, scheduler
step -> the WF-VAE's latents / scale + shift -> decode -> uint8 frames, cropped to the asked size.

The differences from v1.0's VideoGenPipeline: the text keeps all its padded tokens with a mask, the model's whole
output is the prediction (no learned-sigma half), and the latents are normalised per channel by the autoencoder.
"""

import mindspore as ms
import numpy as np

from .pipeline_videogen import step_kwargs, to_uint8_frames

# sample_utils.run_model_and_save_samples wraps every prompt and always guides away from this negative prompt
POSITIVE_PROMPT_TEMPLATE = "\n    high quality, high aesthetic, {}\n    "
NEGATIVE_PROMPT = (
    "\n    nsfw, lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, "
    "worst quality, \n    low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry.\n    "
)
MAX_SEQUENCE_LENGTH = 512  # the pipeline's default and the release's --max_sequence_length


def rescale_noise_cfg(noise_cfg, noise_pred_text, guidance_rescale):
    """diffusers' rescale_noise_cfg (Lin et al. 2023, section 3.4): match the guided prediction's std to the text
    prediction's (torch.std: unbiased, over all but the batch axis), then mix by `guidance_rescale`."""
    axes = tuple(range(1, noise_cfg.ndim))
    std_text = noise_pred_text.astype(np.float64).std(axis=axes, ddof=1, keepdims=True).astype(np.float32)
    std_cfg = noise_cfg.astype(np.float64).std(axis=axes, ddof=1, keepdims=True).astype(np.float32)
    rescaled = noise_cfg * (std_text / std_cfg)
    return np.float32(guidance_rescale) * rescaled + np.float32(1 - guidance_rescale) * noise_cfg


class OpenSoraPipeline:
    """Args:
        text_encoder: a `T5Embedder` over the mT5 folder (or None when embeddings are passed in).
        vae: WFVAEModel (or CausalVAEModel, whose latents are scaled by `scale_factor` as in v1.0).
        transformer: OpenSoraT2V_v1_3; scheduler: a sampler built by `create_v1_3_scheduler`.
        vae_scale_factor: (time, height, width) compression of the autoencoder, the original's ae_stride_config.
    """

    def __init__(self, text_encoder, vae, transformer, scheduler, vae_scale_factor=(4, 8, 8), scale_factor=0.18215):
        self.text_encoder, self.vae, self.transformer, self.scheduler = text_encoder, vae, transformer, scheduler
        self.vae_scale_factor = tuple(vae_scale_factor)
        self.scale_factor = scale_factor

    # ------------------------------------------------------------------ text
    def encode_prompt(self, prompts, negative_prompt="", num_samples_per_prompt=1, do_classifier_free_guidance=True,
                      max_sequence_length=MAX_SEQUENCE_LENGTH):
        """-> (embeds, mask, negative_embeds, negative_mask), numpy (B*n, L, D) float32 and (B*n, L) int32.

        Every prompt of the batch is guided away from the one `negative_prompt`. The original repeats a batch's
        masks (torch .repeat) where it interleaves its embeddings; with one prompt per call (its sample script) the
        two agree, and here both are interleaved."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        embeds, mask = self.encode_texts(prompts, max_sequence_length)
        negative, negative_mask = (self.encode_texts([negative_prompt] * len(prompts), max_sequence_length, warn=False)
                                   if do_classifier_free_guidance else (None, None))
        def per_sample(a):
            return None if a is None else np.repeat(a, num_samples_per_prompt, axis=0)

        return per_sample(embeds), per_sample(mask), per_sample(negative), per_sample(negative_mask)

    def encode_texts(self, texts, max_length, warn=True):
        """Tokenize as typed (padding to max_length, truncating) and run the encoder with the mask; `warn`: say when
        a text is cut (the original warns for prompts, not for the negative prompt)."""
        from ..models.text_encoder.embedder import warn_truncated

        tokenizer = self.text_encoder.tokenizer
        enc = tokenizer(list(texts), max_length=max_length, padding="max_length", truncation=True,
                        return_attention_mask=True, return_tensors="np")
        if warn:
            warn_truncated(tokenizer, texts, max_length, self.text_encoder.logger)
        ids, mask = enc["input_ids"].astype(np.int32), enc["attention_mask"].astype(np.int32)
        out = self.text_encoder.model(ms.Tensor(ids), ms.Tensor(mask))
        return out.astype(ms.float32).asnumpy(), mask

    # ------------------------------------------------------------------ sampling
    def latent_shape(self, batch, num_frames, height, width):
        t, h, w = self.vae_scale_factor
        return (batch, self.transformer.config["in_channels"], (num_frames - 1) // t + 1, height // h, width // w)

    def prepare_latents(self, batch, num_frames, height, width, rng, latents=None):
        """N(0, 1) from `rng` (unless given) x the scheduler's init_noise_sigma, as the original (which scales given
        latents too). Call it after `scheduler.set_timesteps`, as the original does: init_noise_sigma is the largest
        sigma of the current schedule, and the 1000-step table a scheduler starts with is not monotonic with zero
        terminal SNR (its largest sigma, 15406, is not the 4096 of the sampling schedule's first step)."""
        if latents is None:
            latents = rng.standard_normal(self.latent_shape(batch, num_frames, height, width)).astype(np.float32)
        return np.asarray(latents, np.float32) * np.float32(self.scheduler.init_noise_sigma)

    def denoise(self, embeds, mask, negative_embeds, negative_mask, latents, num_inference_steps, guidance_scale=7.5,
                guidance_rescale=0.0, eta=0.0, rng=None, callback=None, progress=True, condition=None):
        """The sampler loop; `callback(i, t, latents)` sees each step's result. Returns the final latents.
        `condition`: channels appended to every model input (the inpaint model's masked latents and mask)."""
        cfg = guidance_scale > 1.0
        text = np.concatenate([negative_embeds, embeds], 0) if cfg else embeds  # uncond first
        text_mask = np.concatenate([negative_mask, mask], 0) if cfg else mask
        dtype = self.transformer.proj_out.weight.dtype
        text = ms.Tensor(text[:, None], dtype)  # (2B, 1, L, D), as the pipeline passes it
        text_mask = ms.Tensor(text_mask[:, None], dtype)  # (2B, 1, L)
        self.scheduler.set_timesteps(num_inference_steps)
        step_kwargs = self._step_kwargs(eta, rng)
        iterator = self.scheduler.timesteps
        if progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, desc=self.scheduler.describe_calls(num_inference_steps), unit="call")
        for i, t in enumerate(iterator):
            model_in = np.concatenate([latents, latents], 0) if cfg else latents
            model_in = self.scheduler.scale_model_input(model_in, t)
            if condition is not None:
                model_in = np.concatenate([model_in, condition], axis=1)
            # the original hands the model t as the latents' float dtype
            timestep = ms.Tensor(np.full((model_in.shape[0],), t, np.float32))
            out = self.transformer(ms.Tensor(model_in, dtype), timestep, text, encoder_attention_mask=text_mask)
            noise_pred = out.astype(ms.float32).asnumpy()
            if cfg:
                uncond, cond = np.split(noise_pred, 2, axis=0)
                noise_pred = uncond + np.float32(guidance_scale) * (cond - uncond)
                if guidance_rescale > 0.0:
                    noise_pred = rescale_noise_cfg(noise_pred, cond, guidance_rescale)
            latents = self.scheduler.step(noise_pred, t, latents, **step_kwargs)[0]
            if callback is not None:
                callback(i, t, latents)
        return latents

    def _step_kwargs(self, eta, rng):
        return step_kwargs(self.scheduler, eta, rng)

    # ------------------------------------------------------------------ decoding
    def decode_float(self, latents):
        """latents (B, C, T', h, w) -> video float (B, T, 3, H, W) in about [-1, 1] (the original's ae_wrapper decode:
        WF-VAE latents / scale + shift; causal VAE latents / 0.18215)."""
        first = next(iter(self.vae.get_parameters()))
        z = ms.Tensor(np.asarray(latents, np.float32), first.dtype)
        z = self.vae.denormalize_latents(z) if hasattr(self.vae, "denormalize_latents") else z / self.scale_factor
        return self.vae.decode(z).astype(ms.float32).asnumpy().transpose(0, 2, 1, 3, 4)

    def decode_latents(self, latents, num_frames=None, height=None, width=None):
        """-> uint8 (B, T, H, W, 3) as the original, cropped to [:num_frames, :height, :width]."""
        video = to_uint8_frames(self.decode_float(latents))
        return video[:, :num_frames, :height, :width]

    def __call__(self, prompt, negative_prompt="", num_frames=None, height=None, width=None, num_inference_steps=50,
                 guidance_scale=7.5, guidance_rescale=0.0, num_samples_per_prompt=1, seed=None, latents=None,
                 max_sequence_length=MAX_SEQUENCE_LENGTH, output_type="video", eta=0.0, callback=None, progress=True):
        """-> uint8 video (B, T, H, W, 3), or the final latents with output_type='latents'.

        One numpy stream (`seed`) gives the initial noise, then each ancestral step's noise."""
        cfg = self.transformer.config
        t, h, w = self.vae_scale_factor
        num_frames = num_frames or (cfg["sample_size_t"] - 1) * t + 1
        height = height or cfg["sample_size_h"] * h
        width = width or cfg["sample_size_w"] * w
        rng = np.random.default_rng(seed)
        embeds, mask, negative, negative_mask = self.encode_prompt(
            prompt, negative_prompt, num_samples_per_prompt, guidance_scale > 1.0, max_sequence_length)
        self.scheduler.set_timesteps(num_inference_steps)
        start = self.prepare_latents(embeds.shape[0], num_frames, height, width, rng, latents)
        final = self.denoise(embeds, mask, negative, negative_mask, start, num_inference_steps, guidance_scale,
                             guidance_rescale, eta, rng, callback, progress)
        return final if output_type == "latents" else self.decode_latents(final, num_frames, height, width)
