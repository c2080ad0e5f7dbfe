"""train.py (causal VAE training) end to end on the real bundled clips with the tiny VAE."""

import json
import os
import sys

import mindspore as ms
import numpy as np
import pytest

from tests.conftest import REPO, fixture_path, load_fixture, run_launcher, run_script, vae_train_args


def ckpt_state(out, step, name="model.ckpt"):
    from opensora.io import read_state_dict

    return read_state_dict(os.path.join(out, "ckpt", f"step_{step:08d}", name))


def max_diff(a, b):
    assert sorted(a) == sorted(b)
    return max(float(np.abs(a[k].astype(np.float64) - b[k]).max()) for k in a)


def update_difference(a, b):
    """||delta_a - delta_b|| / ||delta_a|| over the non-bias weights, delta = trained - initial weights.

    Why not the largest element difference: Adam turns a gradient element's sign into a step of about lr, and
    some gradients are exactly zero in exact arithmetic -- in this tiny VAE every GroupNorm has one channel per
    group, so each conv bias is cancelled by the next GroupNorm -- which leaves float noise whose sign two
    equivalent computations may disagree on, moving such elements up to ~lr per step apart."""
    from opensora.io import net_state
    from opensora.models.ae import CausalVAEModel

    init = net_state(CausalVAEModel.from_pretrained(fixture_path("causalvae_tiny")))
    keys = [k for k in a if not k.endswith(".bias")]
    num = sum(float(((a[k].astype(np.float64) - b[k]) ** 2).sum()) for k in keys)
    den = sum(float(((a[k].astype(np.float64) - init[k]) ** 2).sum()) for k in keys)
    return (num / den) ** 0.5


def test_two_steps_with_lpips_and_discriminator(tmp_path, lpips_ckpt):
    """disc_start 2: batch 0 trains without the adversarial term, batch 1 (global step 2) with it."""
    out = tmp_path / "run"
    result = run_script(vae_train_args(out, "--train_steps", "2", "--use_discriminator", "True", "--disc_start", "2",
                                       "--lpips_ckpt_path", lpips_ckpt, "--ckpt_save_interval", "1"))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in open(out / "train_log.jsonl")]
    assert [r["step"] for r in rows] == [1, 2]
    assert rows[0]["disc_factor"] == 0 and "d_weight" not in rows[0] and rows[0]["disc_loss"] == 0
    assert rows[1]["disc_factor"] == 1 and rows[1]["d_weight"] > 0 and rows[1]["disc_loss"] > 0
    for key in ("total_loss", "nll_loss", "rec_loss", "kl_loss", "g_loss", "logits_real", "logits_fake"):
        assert np.isfinite([r[key] for r in rows]).all(), key
    from opensora.io import net_state
    from opensora.models.ae import CausalVAEModel

    start = net_state(CausalVAEModel.from_pretrained(fixture_path("causalvae_tiny")))
    trained = ckpt_state(out, 2)
    assert max_diff(trained, start) > 1e-5  # the weights moved
    loaded = CausalVAEModel.from_pretrained(fixture_path("causalvae_tiny", "config.json"),
                                            checkpoint=str(out / "ckpt" / "step_00000002" / "model.ckpt"))
    assert max_diff(net_state(loaded), trained) == 0  # model.ckpt is a plain VAE checkpoint
    train_state = ckpt_state(out, 2, "train_state.ckpt")
    assert "disc.main.3.moving_mean" in train_state and "disc_opt.adamw_step" in train_state
    from opensora.dataset.video_io import read_video_clip

    sample = read_video_clip(str(out / "samples" / "step_00000002.mp4"), 5, 1)
    assert sample.shape == (5, 32, 68, 3)  # source | gap | reconstruction
    assert (out / "loss_curves.png").stat().st_size > 1000
    assert json.load(open(out / "summary.json"))["steps"] == 2


def test_resume_equals_an_uninterrupted_run(tmp_path, lpips_ckpt):
    common = ("--use_discriminator", "True", "--disc_start", "2", "--lpips_ckpt_path", lpips_ckpt,
              "--ckpt_save_interval", "2", "--use_ema", "True")
    straight = run_script(vae_train_args(tmp_path / "a", "--train_steps", "3", *common))
    assert straight.returncode == 0, straight.stderr[-3000:]
    first = run_script(vae_train_args(tmp_path / "b", "--train_steps", "2", *common))
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run_script(vae_train_args(tmp_path / "b", "--train_steps", "3", "--resume", "True", *common))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr + open(tmp_path / "b" / "log.txt").read()
    assert max_diff(ckpt_state(tmp_path / "a", 3), ckpt_state(tmp_path / "b", 3)) < 1e-6
    assert max_diff(ckpt_state(tmp_path / "a", 3, "train_state.ckpt"),
                    ckpt_state(tmp_path / "b", 3, "train_state.ckpt")) < 1e-6  # optimizers, EMA, discriminator
    log_a = [json.loads(line) for line in open(tmp_path / "a" / "train_log.jsonl")]
    log_b = [json.loads(line) for line in open(tmp_path / "b" / "train_log.jsonl")]
    assert [r["step"] for r in log_b] == [1, 2, 3]
    assert abs(log_a[2]["total_loss"] - log_b[2]["total_loss"]) < 1e-3 * abs(log_a[2]["total_loss"])


def test_graph_mode_step_equals_pynative(tmp_path):
    """The compiled train step (the default) and PyNative give the same weights after two steps."""
    args = ("--train_steps", "2", "--perceptual_weight", "0", "--ckpt_save_interval", "2")
    graph = run_script(vae_train_args(tmp_path / "g", *args) + ["--jit", "True"])
    assert graph.returncode == 0, graph.stderr[-3000:]
    assert graph.stdout.count("compiling the causal VAE generator step graph (first step; ~40 s on CPU") == 1
    eager = run_script(vae_train_args(tmp_path / "e", *args))
    assert eager.returncode == 0, eager.stderr[-3000:]
    assert "compiling" not in eager.stdout
    assert update_difference(ckpt_state(tmp_path / "g", 2), ckpt_state(tmp_path / "e", 2)) < 1e-3  # measured 2e-5


def test_freeze_encoder_trains_the_decoder_only(tmp_path):
    """--freeze_encoder: encoder and quant_conv keep their initial weights (the latent space a diffusion model was
    trained on), every decoder-side tensor moves, and the optimizer holds moments for the decoder side only."""
    from opensora.io import net_state
    from opensora.models.ae import CausalVAEModel

    args = ("--train_steps", "2", "--perceptual_weight", "0", "--ckpt_save_interval", "2", "--jit", "True")
    proc = run_script(vae_train_args(tmp_path, *args, "--freeze_encoder", "True"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    init = net_state(CausalVAEModel.from_pretrained(fixture_path("causalvae_tiny")))
    trained = ckpt_state(tmp_path, 2)
    assert sorted(trained) == sorted(init)
    frozen = [k for k in init if k.startswith(("encoder.", "quant_conv."))]
    moving = [k for k in init if k.startswith(("decoder.", "post_quant_conv.")) and not k.endswith(".bias")]
    assert frozen and moving
    assert all(np.array_equal(trained[k], init[k]) for k in frozen)
    assert all(not np.array_equal(trained[k], init[k]) for k in moving)
    moments = [k for k in ckpt_state(tmp_path, 2, "train_state.ckpt") if "adam" in k]
    assert moments and not any(".encoder." in k or ".quant_conv." in k for k in moments), moments[:5]
    # resuming it as a whole-VAE run finds no moments for the encoder: a one-line error naming the flag
    resumed = run_script(vae_train_args(tmp_path, *args, "--resume", "True", "--train_steps", "3"))
    lines = [line for line in resumed.stderr.strip().splitlines() if not line.startswith("[WARNING]")]
    assert resumed.returncode == 2 and len(lines) == 1 and "--freeze_encoder" in lines[0], resumed.stderr[-2000:]


def test_fp16_overflow_skips_the_update_then_trains(tmp_path):
    from opensora.io import net_state
    from opensora.train.vae_setup import VAETraining
    from opensora.utils.config import parse_args

    sys.path.insert(0, REPO)
    from train import build_parser

    args = parse_args(build_parser(), vae_train_args(tmp_path / "h", "--dtype", "fp16", "--init_loss_scale",
                                                     str(2.0**40), "--perceptual_weight", "0", "--train_steps",
                                                     "5")[1:])
    run = VAETraining(args)
    before = {k: v.copy() for k, v in net_state(run.vae).items()}  # asnumpy may share the memory
    info = run.train_step()
    assert info["overflow"] and not info["updated"] and run.step == 0
    assert run.trainer.scaler.scale == 2.0**39
    assert max_diff(net_state(run.vae), before) == 0
    run.trainer.scaler.scale = 1.0
    info = run.train_step()
    assert info["updated"] and run.step == 1 and np.isfinite(info["loss"])
    after = net_state(run.vae)
    assert all(v.dtype == np.float32 for v in after.values()) and max_diff(after, before) > 0  # fp32 masters


def test_two_rank_msrun_equals_one_rank(tmp_path):
    """Global batch 2: one process with --batch_size 2 vs msrun 2 workers x --batch_size 1 (mccl on CPU)."""
    common = ("--train_steps", "2", "--ckpt_save_interval", "2", "--perceptual_weight", "0",
              "--use_discriminator", "True", "--disc_start", "100")
    one = vae_train_args(tmp_path / "one", *common)
    one[one.index("--batch_size") + 1] = "2"
    single = run_script(one)
    assert single.returncode == 0, single.stderr[-3000:]
    two = vae_train_args(tmp_path / "two", *common)  # the launcher adds --use_parallel True
    result = run_launcher("scripts/launch.sh", two, 2, 8243, tmp_path / "logs", timeout=600)
    logs = "".join(open(tmp_path / "logs" / f).read()[-3000:] for f in os.listdir(tmp_path / "logs"))
    assert result.returncode == 0, logs
    assert update_difference(ckpt_state(tmp_path / "one", 2), ckpt_state(tmp_path / "two", 2)) < 5e-3  # 9e-4
    r0 = json.load(open(tmp_path / "two" / "summary.json"))["weights_checksum"]
    r1 = json.load(open(tmp_path / "two" / "summary_rank1.json"))["weights_checksum"]
    assert r0 == r1  # both ranks hold identical weights


def test_convert_lpips_from_torch_files(tmp_path):
    """convert_lpips.py: a VGG16 trunk file + lpips' legacy-format vgg.pth -> the checkpoint the loss loads; it
    reproduces the original's per-frame LPIPS."""
    from safetensors.numpy import save_file

    from opensora.models.ae.losses import LPIPS, fold_frames
    from tests.conftest import counter_weights

    vgg = tmp_path / "vgg16_features.safetensors"
    save_file(counter_weights().vgg16_features_arrays(), str(vgg))
    target = tmp_path / "models" / "lpips_vgg-426bf45c.ckpt"
    result = run_script(["tools/model_conversion/convert_lpips.py", "--vgg", str(vgg), "--heads",
                         fixture_path("losses", "weights", "lpips_v0.1_vgg.pth"), "--target", str(target)])
    assert result.returncode == 0, result.stderr
    lpips = LPIPS()
    lpips.load_weights(str(target))
    x = fold_frames(ms.Tensor(load_fixture("losses", "inputs.npy")))
    y = fold_frames(ms.Tensor(load_fixture("losses", "reconstructions.npy")))
    ref = load_fixture("losses", "cases", "train_opt0_step2001", "p_loss.npy")
    np.testing.assert_allclose(lpips(x, y).asnumpy(), ref, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("flag, value, message", [
    ("--lpips_ckpt_path", "models/none.ckpt", "convert_lpips.py"),
    ("--pretrained", "models/causal_vae_488_init.ckpt", "inflate_vae2d_to_vae3d.py"),
])
def test_missing_weights_name_the_tool_that_makes_them(tmp_path, flag, value, message):
    args = vae_train_args(tmp_path / "x", "--train_steps", "1")
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    result = run_script(args)
    assert result.returncode != 0 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_seed_2d_vae_route_end_to_end(tmp_path, lpips_ckpt):
    """The README's chain in a fresh working directory: convert_vae.py on a diffusers 2-D VAE -> MindSpore 2-D
    checkpoint -> inflate_vae2d_to_vae3d.py -> models/causal_vae_488_init.ckpt, read by train.py through the
    training config's `pretrained` key, with the LPIPS weights at the README's models/ae/ path."""
    import shutil

    config_3d = fixture_path("vae2d_tiny", "inflation", "config_causalvae_3d.json")
    (tmp_path / "models" / "ae").mkdir(parents=True)
    shutil.copy(lpips_ckpt, tmp_path / "models" / "ae" / "lpips_vgg-426bf45c.ckpt")
    steps = [
        [os.path.join(REPO, "tools/model_conversion/convert_vae.py"), "--src",
         fixture_path("vae2d_tiny", "diffusers", "diffusion_pytorch_model.safetensors"), "--target",
         "models/vae_2d.ckpt"],
        [os.path.join(REPO, "tools/model_conversion/inflate_vae2d_to_vae3d.py"), "--src", "models/vae_2d.ckpt",
         "--target", "models/causal_vae_488_init.ckpt", "--model_config", config_3d],
        [os.path.join(REPO, "train.py"), "--config", os.path.join(REPO, "configs/ae/training/causal_vae_video.yaml"),
         "--model_config", config_3d, "--data_path", os.path.join(REPO, "assets", "clips"), "--num_frames", "5",
         "--size", "32", "--crop_size", "32", "--dtype", "fp32", "--train_steps", "1", "--jit", "False"],
    ]
    for args in steps:
        result = run_script(args, cwd=str(tmp_path), env_extra={"PYTHONPATH": REPO})
        assert result.returncode == 0, result.stderr[-3000:]
    log = open(tmp_path / "outputs" / "causal_vae" / "log.txt").read()
    assert "loaded 240 tensors from models/causal_vae_488_init.ckpt" in log
    row = json.loads(open(tmp_path / "outputs" / "causal_vae" / "train_log.jsonl").readline())
    assert np.isfinite(row["total_loss"]) and row["nll_loss"] > row["rec_loss"] > 0
    assert os.path.isdir(tmp_path / "outputs" / "causal_vae" / "ckpt" / "step_00000001")


def test_tiny_cpu_training_config_runs(tmp_path):
    """The README's try-it-on-a-laptop command, shortened to one PyNative step."""
    result = run_script(["train.py", "--config", "configs/ae/training/causal_vae_tiny_cpu.yaml", "--train_steps", "1",
                         "--jit", "False", "--output_path", str(tmp_path / "o")])
    assert result.returncode == 0, result.stderr[-3000:]
    row = json.loads(open(tmp_path / "o" / "train_log.jsonl").readline())
    assert np.isfinite(row["total_loss"]) and row["disc_factor"] == 0
    assert (tmp_path / "o" / "samples" / "step_00000001.mp4").is_file()
