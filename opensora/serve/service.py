"""The models behind the web UI, loaded once, and one generation per request through infer_diffusion.py's own
stages (InferenceSetup), so a request is validated as the command line is and gives the command line's frames."""

import threading

from ..pipelines.inference_flags import build_inference_parser
from ..utils.config import parse_args
from ..utils.errors import UserError

DEFAULT_CONFIG = "examples/toy_world/configs/t2v_demo.yaml"  # the bundled demo model (what `make demo` runs)
DEFAULT_OUTPUT = "samples/serve"


class TextToVideoService:
    """Args:
        config: an infer_diffusion.py config (YAML); extra: more infer_diffusion.py flags, as on its command line.
        output_path: where each request's run folder (video, config.yaml, log.txt) is written.
    The first `InferenceSetup` checks the config as infer_diffusion.py would, before any model is built."""

    def __init__(self, config=DEFAULT_CONFIG, output_path=DEFAULT_OUTPUT, extra=()):
        from ..pipelines.inference import InferenceSetup
        from ..utils.ms_utils import init_context

        self.argv = ["--config", config, "--output_path", output_path, *extra]
        self.base = parse_args(build_inference_parser(), self.argv)
        if self.base.text_embed_cache:
            raise UserError(f"--text_embed_cache {self.base.text_embed_cache}: the server encodes each typed prompt; "
                            "drop it from the config")
        if self.base.save_latents or self.base.decode_latents:
            raise UserError("--save_latents / --decode_latents: the server runs all three stages; drop them")
        setup = InferenceSetup(self.base, frames_optional=True)  # one-line errors for a bad config, as the CLI
        init_context(self.base.mode, self.base.device_target, self.base.seed, self.base.debug)
        self.v1_3, self.inpaint = setup.v1_3, setup.inpaint
        self.frames, self.height, self.width = setup.num_frames, setup.height, setup.width
        self.text_encoder = setup.load_text_encoder() if setup.cache is None else None
        self.transformer = setup.load_transformer()
        self.vae = setup.load_vae()
        self.lock = threading.Lock()  # one generation at a time (the queue serialises too; this keeps API calls safe)

    def settings(self, prompt, negative_prompt=None, sample_method=None, sampling_steps=None, guidance_scale=None,
                 seed=None, num_frames=None, height=None, width=None, first_frame=None):
        """The request as infer_diffusion.py flags on top of the server's config: the same types, ranges and
        checks as on the command line (a bad value is a UserError of one line). One prompt, one video."""
        prompt = (prompt or "").strip()
        if not prompt:
            raise UserError("prompt: type what the video should show")
        flags = [("--captions", prompt, _text), ("--negative_prompt", negative_prompt, _text),
                 ("--sample_method", sample_method, _text), ("--sampling_steps", sampling_steps, _integer),
                 ("--guidance_scale", guidance_scale, _text), ("--seed", seed, _integer)]
        if self.v1_3:  # a LatteT2V generates its checkpoint's size only
            flags += [("--num_frames", num_frames, _integer), ("--height", height, _integer),
                      ("--width", width, _integer)]
        if self.inpaint:  # image-to-video: the uploaded frame starts the video
            if not first_frame:
                raise UserError("first frame: upload the image the video starts from")
            flags.append(("--conditional_pixel_values_path", first_frame, _text))
        argv = self.argv + ["--num_videos_per_prompt", "1", "--batch_size", "1", "--save_latents", "False",
                            "--decode_latents", "False", "--save_format", "mp4"]
        for flag, value, kind in flags:
            if value is not None:
                argv += [flag, str(kind(value, flag))]
        return parse_args(build_inference_parser(), argv)

    def generate(self, on_step=None, **request):
        """-> (path of the mp4, the run folder). `on_step(done, total)` follows the sampler's model calls."""
        from ..pipelines.inference import InferenceSetup

        args = self.settings(**request)
        with self.lock:
            setup = InferenceSetup(args)  # validates, makes the run folder and its log, saves config.yaml
            embeds = setup.encode_prompts(self.text_encoder)
            names, _, latents = setup.denoise(embeds, self.transformer, on_step=on_step, vae=self.vae)
            (path,) = setup.decode_and_save(names[:1], latents[:1], self.vae)
        return path, setup.run_dir


def _text(value, flag):
    """A control's text as the flag value (the parser checks it)."""
    return str(value)


def _integer(value, flag):
    """A control's number as an int flag value; 7.5 steps is an error, not 7 (the CLI's rule)."""
    number = float(value)
    if not number.is_integer():
        raise UserError(f"{flag} {value}: must be a whole number")
    return int(number)


def settings_defaults(service):
    """What the page's controls start at: the server config's values."""
    base = service.base
    return {"negative_prompt": base.negative_prompt,
            "sample_method": "DDIM" if base.ddim_sampling else base.sample_method,
            "sampling_steps": base.sampling_steps, "guidance_scale": base.guidance_scale, "seed": base.seed,
            "num_frames": service.frames, "height": service.height, "width": service.width}


__all__ = ["TextToVideoService", "settings_defaults", "DEFAULT_CONFIG", "DEFAULT_OUTPUT"]
