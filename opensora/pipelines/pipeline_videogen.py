"""Text-to-video sampling as Open-Sora-Plan v1.0.0's VideoGenPipeline (sample/pipeline_videogen.py).

prompt -> T5 (lower-case + strip, 300 tokens) -> CFG batch [negative; positive] -> sampler loop (guidance on all
8 output channels, then the 4 eps channels) -> latents / 0.18215 -> causal VAE -> uint8 frames (truncating).
"""

import mindspore as ms
import numpy as np

from ..models.ae import VAE_SCALE_FACTOR

PIPELINE_MAX_LENGTH = 300  # hard-coded in the original pipeline


def mask_text_embeddings(emb, mask):
    """Batch 1: keep the first mask.sum() tokens (prompt + </s>); batch > 1: zero the pad rows, keep 300."""
    if emb.shape[0] == 1:
        keep = int(mask.sum())
        return emb[:, :keep], keep
    return emb * mask[:, :, None], emb.shape[1]


def step_kwargs(scheduler, eta, rng):
    """prepare_extra_step_kwargs: eta and the generator for the samplers whose step takes them."""
    import inspect

    params = inspect.signature(scheduler.step).parameters
    kwargs = {}
    if "eta" in params:
        kwargs["eta"] = eta
    if "generator" in params:
        kwargs["generator"] = rng
    return kwargs


def to_uint8_frames(video):
    """float (B, T, 3, H, W) in about [-1, 1] -> uint8 (B, T, H, W, 3): ((v / 2 + 0.5).clamp(0, 1) * 255) truncated,
    as both original pipelines."""
    video = (np.clip(video / np.float32(2.0) + np.float32(0.5), 0, 1) * np.float32(255)).astype(np.uint8)
    return video.transpose(0, 1, 3, 4, 2)


class VideoGenPipeline:
    """Args:
        text_encoder: a `T5Embedder` (or None when embeddings are passed in).
        vae: CausalVAEModel; transformer: LatteT2V; scheduler: one of `opensora.diffusion.schedulers.SAMPLERS`.
    """

    def __init__(self, text_encoder, vae, transformer, scheduler, scale_factor=VAE_SCALE_FACTOR):
        self.text_encoder, self.vae, self.transformer, self.scheduler = text_encoder, vae, transformer, scheduler
        self.scale_factor = scale_factor

    # ------------------------------------------------------------------ text
    def encode_prompt(self, prompt, negative_prompt="", num_images_per_prompt=1, prompt_embeds=None,
                      negative_prompt_embeds=None, do_classifier_free_guidance=True, mask_feature=True,
                      prompt_mask=None):
        """-> (prompt_embeds, negative_prompt_embeds) numpy float32 (B*n, L, D), as the original builds them.

        Embeddings passed in without `prompt_mask` are used as they are (the original's `prompt_embeds=`);
        with `prompt_mask` they are treated as raw T5 outputs (an embedding cache) and masked like fresh ones.
        """
        provided = prompt_embeds is not None and negative_prompt_embeds is not None and prompt_mask is None
        if prompt_embeds is None:
            prompts = [prompt] if isinstance(prompt, str) else list(prompt)
            texts = [p.lower().strip() for p in prompts]  # the pipeline does not clean_caption
            ids, mask = self._tokenize(texts, PIPELINE_MAX_LENGTH)
            prompt_embeds = self._encode(ids, mask)
        else:
            prompt_embeds = np.asarray(prompt_embeds, dtype=np.float32)
            mask = np.ones(prompt_embeds.shape[:2], np.int32) if prompt_mask is None else np.asarray(prompt_mask)
        batch, seq_len = prompt_embeds.shape[:2]
        prompt_embeds = np.repeat(prompt_embeds, num_images_per_prompt, axis=0)
        mask = np.repeat(mask, num_images_per_prompt, axis=0)
        if do_classifier_free_guidance and negative_prompt_embeds is None:
            ids, neg_mask = self._tokenize([negative_prompt.lower().strip()] * batch, seq_len)
            negative_prompt_embeds = self._encode(ids, neg_mask)
        if do_classifier_free_guidance:
            negative_prompt_embeds = np.asarray(negative_prompt_embeds, np.float32)
            if negative_prompt_embeds.shape[0] != batch:  # a cache stores the negative prompt once
                negative_prompt_embeds = np.repeat(negative_prompt_embeds[:1], batch, axis=0)
            negative_prompt_embeds = np.repeat(negative_prompt_embeds, num_images_per_prompt, 0)
        if mask_feature and not provided:
            prompt_embeds, keep = mask_text_embeddings(prompt_embeds, mask)
            if negative_prompt_embeds is not None:
                negative_prompt_embeds = negative_prompt_embeds[:, :keep]  # pad rows of "" are not zeroed
        return prompt_embeds, negative_prompt_embeds

    def _tokenize(self, texts, max_length):
        from ..models.text_encoder.embedder import warn_truncated, warn_unknown_words

        enc = self.text_encoder.tokenizer(texts, max_length=max_length, padding="max_length", truncation=True,
                                          add_special_tokens=True, return_attention_mask=True, return_tensors="np")
        warn_truncated(self.text_encoder.tokenizer, texts, max_length, self.text_encoder.logger)
        warn_unknown_words(self.text_encoder.tokenizer, texts, self.text_encoder.logger)
        return enc["input_ids"].astype(np.int32), enc["attention_mask"].astype(np.int32)

    def _encode(self, ids, mask):
        out = self.text_encoder.model(ms.Tensor(ids), ms.Tensor(mask))
        return out.astype(ms.float32).asnumpy()

    # ------------------------------------------------------------------ sampling
    def prepare_latents(self, batch, video_length, latent_hw, rng, latents=None):
        shape = (batch, self.transformer.in_channels, video_length, latent_hw[0], latent_hw[1])
        if latents is None:
            latents = rng.standard_normal(shape).astype(np.float32)
        return np.asarray(latents, np.float32) * np.float32(self.scheduler.init_noise_sigma)

    def denoise(self, prompt_embeds, negative_prompt_embeds, latents, num_inference_steps, guidance_scale=7.5,
                enable_temporal_attentions=True, eta=0.0, rng=None, callback=None, progress=True):
        """The sampler loop; `callback(i, t, latents, info)` sees each step's tensors. Returns final latents."""
        cfg = guidance_scale > 1.0
        text = np.concatenate([negative_prompt_embeds, prompt_embeds], 0) if cfg else prompt_embeds  # uncond first
        text = ms.Tensor(text, self._dtype())
        self.scheduler.set_timesteps(num_inference_steps)
        step_kwargs = self._step_kwargs(eta, rng)
        latent_channels = self.transformer.in_channels
        timesteps = self.scheduler.timesteps
        iterator = timesteps
        if progress:
            from tqdm import tqdm

            # the bar counts model calls; PNDM's warm-up makes them more than num_inference_steps
            iterator = tqdm(timesteps, desc=self.scheduler.describe_calls(num_inference_steps), unit="call")
        for i, t in enumerate(iterator):
            model_in = np.concatenate([latents, latents], 0) if cfg else latents
            model_in = self.scheduler.scale_model_input(model_in, t)
            t_batch = ms.Tensor(np.full((model_in.shape[0],), t), ms.float32 if np.asarray(t).dtype.kind == "f"
                                else ms.int32)
            out = self.transformer(ms.Tensor(model_in, self._dtype()), t_batch, text,
                                   enable_temporal_attentions=enable_temporal_attentions)
            out = out.astype(ms.float32).asnumpy()  # (2B, 8, F, h, w)
            if cfg:
                uncond, cond = np.split(out, 2, axis=0)
                out = uncond + np.float32(guidance_scale) * (cond - uncond)  # on all 8 channels (L11)
            eps = out[:, :latent_channels] if out.shape[1] == 2 * latent_channels else out
            latents = self.scheduler.step(eps, t, latents, **step_kwargs)[0]
            if callback is not None:
                callback(i, t, latents, {"model_input": model_in, "model_output": out, "guided_eps": eps})
        return latents

    def _step_kwargs(self, eta, rng):
        return step_kwargs(self.scheduler, eta, rng)

    def _dtype(self):
        return self.transformer.proj_out.weight.dtype

    # ------------------------------------------------------------------ decoding
    def decode_float(self, latents):
        """latents (B, 4, T', h, w) -> video float (B, T, 3, H, W) in about [-1, 1] (CausalVAEModelWrapper.decode)."""
        vae_dtype = self.vae.decoder.conv_in.conv.weight.dtype
        video = self.vae.decode(ms.Tensor(np.asarray(latents) / np.float32(self.scale_factor), vae_dtype))
        return video.astype(ms.float32).asnumpy().transpose(0, 2, 1, 3, 4)

    def decode_latents(self, latents):
        """-> uint8 (B, T, H, W, 3), as the original."""
        return to_uint8_frames(self.decode_float(latents))

    def __call__(self, prompt=None, negative_prompt="", num_inference_steps=50, guidance_scale=7.5,
                 num_images_per_prompt=1, video_length=None, latent_hw=None, seed=None, latents=None,
                 prompt_embeds=None, negative_prompt_embeds=None, output_type="video",
                 enable_temporal_attentions=True, eta=0.0, mask_feature=True, callback=None, progress=True):
        """-> uint8 video (B, T, H, W, 3), or latents (B, 4, T', h, w) with output_type='latents'."""
        rng = np.random.default_rng(seed)
        cfg = guidance_scale > 1.0
        pe, ne = self.encode_prompt(prompt, negative_prompt, num_images_per_prompt, prompt_embeds,
                                    negative_prompt_embeds, cfg, mask_feature)
        video_length = video_length or self.transformer.video_length
        latent_hw = latent_hw or tuple(self.transformer.config["sample_size"])
        self.scheduler.set_timesteps(num_inference_steps)  # init_noise_sigma is the schedule's, as the original
        start = self.prepare_latents(pe.shape[0], video_length, latent_hw, rng, latents)
        final = self.denoise(pe, ne, start, num_inference_steps, guidance_scale, enable_temporal_attentions, eta, rng,
                             callback, progress)
        return final if output_type == "latents" else self.decode_latents(final)
