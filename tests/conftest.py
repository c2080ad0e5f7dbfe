"""Shared test setup: MindSpore on CPU in PyNative with synchronous errors, fixture paths, tiny data."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

# Pin oneDNN to its AVX2 kernels before MindSpore loads it (MindSpore 2.7.2 bundles oneDNN v2.2, which reads the
# DNNL_ name; later versions read ONEDNN_). On Intel AVX-512 CPUs its AVX-512 convolution weight gradients differ
# from PyTorch's by 3e-4 (relative), 3x the parity tolerance of tests/parity/test_vae_loss_parity.py; with AVX2
# they agree to 5e-7, as on AMD CPUs, where oneDNN v2.2 runs AVX2 anyway. A caller's own setting wins.
os.environ.setdefault("DNNL_MAX_CPU_ISA", "AVX2")
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
CLIPS = os.path.join(REPO, "assets", "clips")


def pytest_configure(config):
    import mindspore as ms

    ms.set_device("CPU")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.runtime.launch_blocking()  # PyNative errors on CPU otherwise surface at a later op


@pytest.fixture
def fixture_dir():
    return FIXTURES


def fixture_path(*parts):
    return os.path.join(FIXTURES, *parts)


def load_fixture(*parts):
    return np.load(fixture_path(*parts))


def assert_close(actual, expected, rtol, atol, what=""):
    """|a - b| <= atol + rtol * |b| elementwise; the message gives the worst element."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    excess = np.abs(actual - expected) - (atol + rtol * np.abs(expected))
    worst = np.unravel_index(np.argmax(excess), excess.shape) if excess.size else ()
    assert (excess <= 0).all(), (f"{what}: max |diff| {np.abs(actual - expected).max():.3g} exceeds "
                                 f"atol {atol} + rtol {rtol}*|ref| at {worst}")


def run_script(args, cwd=REPO, timeout=900, env_extra=None):
    """Run a README command (`python script.py ...`) in a subprocess; returns CompletedProcess."""
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def run_launcher(launcher, args, devices, master_port, log_dir, timeout=900):
    """Run a scripts/ launcher on the CPU backend with this venv's python; DEVICES > 1 goes through msrun."""
    env = {**os.environ, "DEVICES": str(devices), "DEVICE_TARGET": "CPU", "PYTHON": sys.executable,
           "MASTER_PORT": str(master_port), "LOG_DIR": str(log_dir)}
    return subprocess.run(["bash", launcher, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.fixture(scope="session")
def tiny_vae():
    from opensora.models.ae import CausalVAEModel

    return CausalVAEModel.from_pretrained(fixture_path("causalvae_tiny"))


@pytest.fixture(scope="session")
def tiny_t2v_models(tmp_path_factory):
    """A tiny text-to-video stack whose parts fit together: the tiny T5 (d_model 64), a LatteT2V with the tiny
    fixture's architecture and caption_channels 64 (seeded random weights), and the tiny causal VAE."""
    import json

    from opensora.io import net_state, save_state
    from opensora.models.diffusion.latte import LatteT2V

    folder = tmp_path_factory.mktemp("models") / "tiny_t2v"
    folder.mkdir()
    config = json.load(open(fixture_path("latte_tiny", "config.json")))
    config["caption_channels"] = 64
    import mindspore as ms

    ms.set_seed(0)
    model = LatteT2V(config)
    (folder / "config.json").write_text(json.dumps(config))
    save_state(net_state(model), str(folder / "model.ckpt"))
    return {"latte_dir": str(folder), "vae": fixture_path("causalvae_tiny"), "t5": fixture_path("t5_tiny", "hf")}


def t2v_args(models, out, *extra):
    """infer_diffusion.py flags for the tiny stack."""
    return ["infer_diffusion.py", "--model_config", f"{models['latte_dir']}/config.json",
            "--checkpoint", f"{models['latte_dir']}/model.ckpt", "--vae_config", models["vae"], "--vae_checkpoint", "",
            "--t5_model_dir", models["t5"], "--output_path", str(out), "--sampling_steps", "5", *extra]


def clips_with_embeddings(root, text_encoder):
    """The two bundled clips, an annotation csv and their text embeddings (infer_t5.py, 16 tokens) in `root`."""
    (root / "clips").mkdir()
    for name in ("bikes.mp4", "bigbuckbunny.mp4"):
        shutil.copy(os.path.join(CLIPS, name), root / "clips" / name)
    (root / "ann.csv").write_text("video,caption\nclips/bikes.mp4,people ride bikes\n"
                                  "clips/bigbuckbunny.mp4,a big bunny in a forest\n")
    made = run_script(["infer_t5.py", "--data_file_path", str(root / "ann.csv"), "--t5_model_dir", text_encoder,
                       "--t5_max_length", "16"])
    assert made.returncode == 0, made.stderr
    return root


@pytest.fixture(scope="session")
def train_data(tmp_path_factory):
    """Two real clips, their T5 embeddings (infer_t5.py), a LatteT2V config for 5 frames at 32x32."""
    root = clips_with_embeddings(tmp_path_factory.mktemp("t2v_data"), fixture_path("t5_tiny", "hf"))
    config = json.load(open(fixture_path("latte_tiny", "config.json")))
    config.update(caption_channels=64, sample_size=[4, 4], video_length=2)
    (root / "latte.json").write_text(json.dumps(config))
    return root


def train_args(data, out, *extra):
    return ["train_diffusion.py", "--data_file_path", str(data / "ann.csv"), "--video_folder", str(data),
            "--text_embed_folder", str(data), "--model_config", str(data / "latte.json"), "--vae_config",
            fixture_path("causalvae_tiny"), "--vae_checkpoint", "", "--image_size", "32", "--num_frames", "5",
            "--batch_size", "2", "--start_learning_rate", "1e-3", "--output_path", str(out), *extra]


def weights(out, step):
    from opensora.io import read_state_dict

    return read_state_dict(os.path.join(out, "ckpt", f"step_{step:08d}", "model.ckpt"))


# ----------------------------------------------------------------------------- VAE loss and training
def counter_weights():
    """The fixture's numpy-only generator of the VGG16 trunk and discriminator weights (too big to ship)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("counter_weights", fixture_path("losses", "weights",
                                                                                  "counter_weights.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def lpips_ckpt(tmp_path_factory):
    """An LPIPS checkpoint with the fixture's (random, reproducible) VGG16 trunk and the real v0.1 heads."""
    from opensora.io import read_state_dict, save_state
    from opensora.models.ae.losses.lpips import canonical_lpips_state

    state = {**counter_weights().vgg16_features_arrays(),
             **read_state_dict(fixture_path("losses", "weights", "lpips_vgg_lin.safetensors"))}
    path = tmp_path_factory.mktemp("lpips") / "lpips_vgg.ckpt"
    save_state(canonical_lpips_state(state), str(path))
    return str(path)


def vae_train_args(out, *extra):
    """train.py on the real bundled clips with the tiny causal VAE (5 frames, 32x32), PyNative."""
    return ["train.py", "--model_config", fixture_path("causalvae_tiny", "config.json"), "--pretrained",
            fixture_path("causalvae_tiny", "diffusion_pytorch_model.safetensors"), "--data_path", CLIPS,
            "--num_frames", "5", "--size", "32", "--crop_size", "32", "--flip", "True", "--batch_size", "1",
            "--base_learning_rate", "1e-4", "--scale_lr", "False", "--scheduler", "constant", "--jit", "False",
            "--output_path", str(out), *extra]
