"""`infer_ae.py` and `convert_vae.py` run as a user would, on the bundled real clips and tiny weights."""

import json
import os

import pytest
from conftest import CLIPS, fixture_path, run_script

TINY = fixture_path("causalvae_tiny")


def test_convert_then_reconstruct_bundled_clip(tmp_path):
    ckpt = str(tmp_path / "vae.ckpt")
    conv = run_script(["tools/model_conversion/convert_vae.py", "--src",
                       os.path.join(TINY, "diffusion_pytorch_model.safetensors"), "--target", ckpt,
                       "--model_config", os.path.join(TINY, "config.json")])
    assert conv.returncode == 0, conv.stderr
    assert "converted 244 / dropped 0 (loss.*) / missing 0" in conv.stdout
    out = tmp_path / "recons"
    result = run_script(["infer_ae.py", "--model_config", os.path.join(TINY, "config.json"), "--ckpt_path", ckpt,
                         "--data_path", CLIPS, "--dataset_name", "video", "--num_frames", "5", "--size", "48",
                         "--crop_size", "48", "--batch_size", "2", "--output_path", str(out)])
    assert result.returncode == 0, result.stderr
    metrics = json.load(open(out / "metrics.json"))
    assert metrics["num_clips"] == 2
    assert 3 < metrics["mean_psnr"] < 60 and -1 <= metrics["mean_ssim"] <= 1
    assert "mean PSNR" in result.stdout
    videos = sorted(n for n in os.listdir(out) if n.endswith(".mp4"))
    assert videos == ["000-bigbuckbunny.mp4", "001-bikes.mp4"]
    from opensora.dataset.video_io import read_video_clip

    assert read_video_clip(str(out / videos[1]), 5, 1).shape == (5, 48, 100, 3)  # source | gap | reconstruction
    assert os.path.isfile(out / "config.yaml")


def test_image_mode_and_same_result_twice(tmp_path):
    import cv2
    from skimage import data

    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "coffee.png"), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    runs = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        result = run_script(["infer_ae.py", "--model_config", TINY, "--data_path", str(images), "--dataset_name",
                             "image", "--size", "64", "--crop_size", "64", "--output_path", str(out),
                             "--save_format", "gif"])
        assert result.returncode == 0, result.stderr
        runs.append(json.load(open(out / "metrics.json"))["mean_psnr"])
        assert os.path.isfile(out / "000-coffee.gif")
    assert runs[0] == runs[1]  # posterior mode by default: deterministic


@pytest.mark.parametrize("flags,expected", [
    (["--num_frames", "16"], "--num_frames: 16 frames is not 4k+1"),
    (["--dtype", "bf16"], "--dtype bf16: the CPU backend has no bf16 kernels"),
    (["--num_frames", "65"], "video has 33 frames; num_frames=65"),
    (["--data_path", "no/such/folder"], "--data_path 'no/such/folder': not a folder"),
])
def test_bad_input_is_one_line_error(tmp_path, flags, expected):
    args = ["infer_ae.py", "--model_config", TINY, "--data_path", CLIPS, "--size", "32", "--crop_size", "32",
            "--num_frames", "5", "--output_path", str(tmp_path / "o")] + flags
    result = run_script(args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("[WARNING]")]
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_readme_demo_config_runs(tmp_path):
    """`make demo-vae` = infer_ae.py --config examples/toy_world/configs/demo_reconstruction.yaml (bundled clips and
    VAE)."""
    result = run_script(
        [
            "infer_ae.py",
            "--config",
            "examples/toy_world/configs/demo_reconstruction.yaml",
            "--output_path",
            str(tmp_path / "demo"),
        ]
    )
    assert result.returncode == 0, result.stderr
    metrics = json.load(open(tmp_path / "demo" / "metrics.json"))
    assert metrics["num_clips"] == 2 and all(
        os.path.isfile(tmp_path / "demo" / f"{i:03d}-{n}.mp4") for i, n in enumerate(["bigbuckbunny", "bikes"])
    )


def test_ae_family_flag_and_the_v1_3_folder_flag(tmp_path):
    """`--ae` takes the v1.3 names (family + suffix) and must agree with the config; `--ae_path` is the v1.3
    scripts' name for a released folder."""
    common = ["--data_path", CLIPS, "--num_frames", "5", "--size", "32", "--crop_size", "32", "--save_vis", "False"]
    ok = run_script(["infer_ae.py", "--ae_path", TINY, "--ae", "CausalVAEModel_D4_4x8x8", *common,
                     "--output_path", str(tmp_path / "a")])
    assert ok.returncode == 0, ok.stderr
    assert json.load(open(tmp_path / "a" / "metrics.json"))["num_clips"] == 2
    bad = run_script(["infer_ae.py", "--ae_path", TINY, "--ae", "VQModel", *common, "--output_path", str(tmp_path)])
    assert bad.returncode == 2 and "--ae VQModel: unknown autoencoder; choose one of CausalVAEModel" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_reconstruction_pipeline_as_a_library_reproduces_the_original():
    """No command line: typed settings -> the pipeline -> the original's decode of the fixture's input."""
    import mindspore as ms
    from conftest import assert_close, load_fixture

    from opensora.pipelines.reconstruction import ReconstructionPipeline, ReconstructionSettings
    from opensora.utils.logger import setup_logger

    settings = ReconstructionSettings(model_config=TINY, dtype=ms.float32)
    pipeline = ReconstructionPipeline(settings, setup_logger(None))
    x = load_fixture("causalvae_tiny", "input.npy")
    assert_close(pipeline.reconstruct(x), load_fixture("causalvae_tiny", "dec.npy"), 1e-4, 1e-4, "dec")


WFVAE = fixture_path("wfvae_tiny", "ln_release")


def test_wfvae_convert_merged_ckpt_then_reconstruct_videos_and_images(tmp_path):
    """The v1.3 release's layout: config.json + merged.ckpt. The converter reads the config beside --src."""
    ckpt = str(tmp_path / "wfvae.ckpt")
    conv = run_script(["tools/model_conversion/convert_vae.py", "--src", os.path.join(WFVAE, "merged.ckpt"),
                       "--target", ckpt])
    assert conv.returncode == 0, conv.stderr
    assert "a WFVAEModel checkpoint" in conv.stdout and "missing 0" in conv.stdout
    assert "constant Haar filters not in it, written at their values" in conv.stdout  # the EMA weights lack them
    from opensora.io import load_state_into, read_state_dict
    from opensora.models.ae.wfvae import WFVAEModel

    load_state_into(WFVAEModel.from_config_file(os.path.join(WFVAE, "config.json")), read_state_dict(ckpt),
                    source=ckpt)  # complete: strict without the loader's filling
    runs = {}
    for name, flags in {"whole": [], "tiled": ["--enable_tiling"]}.items():
        out = tmp_path / name
        result = run_script(["infer_ae.py", "--model_config", os.path.join(WFVAE, "config.json"), "--ckpt_path",
                             ckpt, "--data_path", CLIPS, "--num_frames", "9", "--size", "48", "--crop_size", "48",
                             "--output_path", str(out), *flags])
        assert result.returncode == 0, result.stderr
        runs[name] = json.load(open(out / "metrics.json"))
        assert runs[name]["num_clips"] == 2 and os.path.isfile(out / "001-bikes.mp4")
    # LayerNorm has no statistics across chunks: tiling changes nothing but rounding
    assert abs(runs["whole"]["mean_psnr"] - runs["tiled"]["mean_psnr"]) < 1e-3
    images = tmp_path / "images"
    images.mkdir()
    import cv2
    from skimage import data

    cv2.imwrite(str(images / "astronaut.png"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    result = run_script(["infer_ae.py", "--ae_path", WFVAE, "--ae", "WFVAEModel_D8_4x8x8", "--data_path", str(images),
                         "--dataset_name", "image", "--size", "64", "--crop_size", "64", "--output_path",
                         str(tmp_path / "img")])
    assert result.returncode == 0, result.stderr
    assert json.load(open(tmp_path / "img" / "metrics.json"))["num_clips"] == 1


@pytest.mark.parametrize("flags,expected", [
    (["--num_frames", "7"], "--num_frames 7: the WF-VAE takes 4k+1 frames (1 for images), e.g. 5 or 9"),
    (["--crop_size", "36", "--size", "36"], "--crop_size 36: the WF-VAE needs sides that are multiples of 8"),
    (["--time_chunk_frames", "9"], "--time_chunk_frames: the WF-VAE chunks time with its causal cache"),
    (["--ae", "CausalVAEModel"], "describes a WFVAEModel; pass the matching --ae"),
])
def test_wfvae_bad_input_is_one_line_error(tmp_path, flags, expected):
    args = ["infer_ae.py", "--model_config", WFVAE, "--data_path", CLIPS, "--size", "32", "--crop_size", "32",
            "--num_frames", "5", "--output_path", str(tmp_path / "o")] + flags
    result = run_script(args)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("[WARNING]")]
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_convert_vae_reads_the_config_beside_src_like_convert_latte(tmp_path):
    """Without --model_config the causal VAE's config.json next to the weights is the architecture (no 488
    default that would mis-shape a tiny model)."""
    result = run_script(["tools/model_conversion/convert_vae.py", "--src",
                         os.path.join(TINY, "diffusion_pytorch_model.safetensors"), "--target",
                         str(tmp_path / "vae.ckpt")])
    assert result.returncode == 0, result.stderr
    assert "converted 244 / dropped 0 (loss.*) / missing 0" in result.stdout
