"""The gradio page: infer_diffusion.py's controls, a progress bar that counts the sampler's model calls, the video
with a download link, and a gallery of this session's earlier results. A bad request is a one-line message in the
page (the same message the command line prints); the server stays up."""

import logging
import os

import gradio as gr

from ..diffusion.schedulers import SAMPLERS
from ..utils.errors import UserError
from .service import settings_defaults

TITLE = "Open-Sora-Plan for MindSpore: text to video"


def generate_fn(service):
    """The request handler: (inputs..., gallery state) -> (video, download file, status, gallery, state)."""

    def generate(prompt, negative_prompt, sample_method, sampling_steps, guidance_scale, seed, num_frames, height,
                 width, first_frame, history, progress=gr.Progress()):
        history = list(history or [])
        request = dict(prompt=prompt, negative_prompt=negative_prompt, sample_method=sample_method,
                       sampling_steps=sampling_steps, guidance_scale=guidance_scale, seed=seed,
                       num_frames=num_frames, height=height, width=width, first_frame=first_frame)

        def on_step(done, total):
            progress((done, total), desc="sampling", unit="model calls")

        try:
            path, _ = service.generate(on_step=on_step, **request)
        except UserError as err:
            return None, None, f"error: {err}", history, history
        except Exception as err:  # noqa: BLE001 -- a request must not take the server down
            logging.getLogger("opensora").exception("request failed")
            first = (str(err).splitlines() or [""])[0][:200]
            return None, None, f"error: {type(err).__name__}: {first}", history, history
        history.append((path, prompt.strip()))
        status = f"done: {os.path.basename(path)} (seed {int(seed)}, {sample_method}, {int(sampling_steps)} steps)"
        return path, path, status, history, history

    return generate


def build_app(service):
    defaults = settings_defaults(service)
    size = f"{defaults['num_frames']} frames, {defaults['height']}x{defaults['width']}"
    with gr.Blocks(title=TITLE) as app:
        kind = "image-to-video" if service.inpaint else "text-to-video"
        gr.Markdown(f"## {TITLE}\nModel: `{service.base.model_config or service.base.model_version}` ({kind}, {size}"
                    + ("" if service.v1_3 else "; a LatteT2V generates its checkpoint's size") + ").")
        history = gr.State([])
        with gr.Row():
            with gr.Column():
                prompt = gr.Textbox(label="Prompt", lines=2, elem_id="prompt",
                                    placeholder="a red circle moves from left to right")
                negative = gr.Textbox(label="Negative prompt ('auto': the model family's original)",
                                      value=defaults["negative_prompt"], elem_id="negative_prompt")
                sampler = gr.Dropdown(list(SAMPLERS), value=defaults["sample_method"], label="Sampler",
                                      elem_id="sampler")
                with gr.Row():
                    steps = gr.Number(value=defaults["sampling_steps"], precision=0, label="Sampling steps",
                                      elem_id="steps")
                    guidance = gr.Number(value=defaults["guidance_scale"], label="Guidance scale (<= 1: off)",
                                         elem_id="guidance")
                    seed = gr.Number(value=defaults["seed"], precision=0, label="Seed", elem_id="seed")
                with gr.Row(visible=service.v1_3):
                    frames = gr.Number(value=defaults["num_frames"], precision=0, label="Frames (4n+1)")
                    height = gr.Number(value=defaults["height"], precision=0, label="Height (x16)")
                    width = gr.Number(value=defaults["width"], precision=0, label="Width (x16)")
                # image-to-video models (OpenSoraInpaint_v1_3): the frame the video starts from
                first_frame = gr.Image(label="First frame (image-to-video)", type="filepath", sources=["upload"],
                                       visible=service.inpaint, elem_id="first_frame")
                button = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column():
                video = gr.Video(label="Result", interactive=False, autoplay=True, loop=True, elem_id="result")
                download = gr.File(label="Download", interactive=False, elem_id="download")
                status = gr.Markdown(elem_id="status")
        gallery = gr.Gallery(label="This session", columns=4, height=280, preview=False, object_fit="contain",
                             elem_id="gallery")
        button.click(generate_fn(service), [prompt, negative, sampler, steps, guidance, seed, frames, height, width,
                                            first_frame, history], [video, download, status, gallery, history],
                     api_name="generate")
    return app
