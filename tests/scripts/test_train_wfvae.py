"""train.py with the v1.3 WF-VAE end to end on the bundled clips: the original's schedule (one optimizer step per
batch, the discriminator's on odd steps from disc_start), LPIPS, exact resume, msrun data parallel, the tiny
CPU config."""

import json
import os

import numpy as np
from conftest import CLIPS, fixture_path, run_launcher, run_script

WFVAE = fixture_path("wfvae_tiny", "ln_release")


def wfvae_train_args(out, *extra):
    """The tiny WF-VAE (its merged.ckpt as the start), 5 frames of 32x32, PyNative, the original's AdamW."""
    return ["train.py", "--model_config", WFVAE, "--data_path", CLIPS, "--num_frames", "5", "--size", "32",
            "--crop_size", "32", "--flip", "True", "--batch_size", "1", "--base_learning_rate", "1e-4",
            "--scale_lr", "False", "--scheduler", "constant", "--optim", "adamw", "--betas", "0.9", "0.999",
            "--weight_decay", "1e-4", "--jit", "False", "--output_path", str(out), *extra]


def ckpt_state(out, step, name="model.ckpt"):
    from opensora.io import read_state_dict

    return read_state_dict(os.path.join(out, "ckpt", f"step_{step:08d}", name))


def max_diff(a, b):
    assert sorted(a) == sorted(b)
    return max(float(np.abs(a[k].astype(np.float64) - b[k]).max()) for k in a)


def test_generator_and_discriminator_steps_alternate_from_disc_start(tmp_path, lpips_ckpt):
    """disc_start 2: steps 0, 1 train the WF-VAE without the GAN term, step 2 with it (adaptive weight), step 3 is
    the discriminator's. LPIPS on (the fixture's VGG16 trunk with the real heads)."""
    out = tmp_path / "run"
    result = run_script(wfvae_train_args(out, "--train_steps", "4", "--use_discriminator", "True", "--disc_start",
                                         "2", "--lpips_ckpt_path", lpips_ckpt, "--ckpt_save_interval", "4"))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in open(out / "train_log.jsonl")]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all("total_loss" in r and r["d_weight"] == 0 and r["g_loss"] == 0 for r in rows[:2])
    assert rows[2]["d_weight"] > 0 and rows[2]["disc_factor"] == 1 and rows[2]["g_loss"] != 0
    assert "disc_loss" in rows[3] and "total_loss" not in rows[3] and rows[3]["disc_loss"] > 0
    for key in ("total_loss", "nll_loss", "kl_loss"):
        assert np.isfinite([r[key] for r in rows[:3]]).all(), key
    assert all(r["wl_loss"] == 0 for r in rows[:3])  # v1.3.1's forward gives the wavelet term nothing
    from opensora.io import net_state
    from opensora.models.ae.wfvae import WFVAEModel

    start = net_state(WFVAEModel.from_pretrained(WFVAE))
    trained = ckpt_state(out, 4)
    assert max_diff(trained, start) > 1e-5
    haar = [k for k in start if "wavelet_tranform" in k]
    assert haar and all(np.array_equal(trained[k], start[k]) for k in haar)  # the filters are constants
    loaded = WFVAEModel.from_pretrained(os.path.join(WFVAE, "config.json"),
                                        checkpoint=str(out / "ckpt" / "step_00000004" / "model.ckpt"))
    assert max_diff(net_state(loaded), trained) == 0  # the checkpoint is what infer_ae.py loads
    assert os.path.isfile(out / "samples" / "step_00000004.mp4") and os.path.isfile(out / "loss_curves.png")


def test_resume_equals_an_uninterrupted_run(tmp_path):
    """Stopped after the generator step at disc_start, resumed into the discriminator step: weights, both
    optimizers, EMA and the discriminator equal a straight run."""
    common = ("--use_discriminator", "True", "--disc_start", "2", "--perceptual_weight", "0",
              "--ckpt_save_interval", "3", "--use_ema", "True", "--ema_decay", "0.999")
    straight = run_script(wfvae_train_args(tmp_path / "a", "--train_steps", "4", *common))
    assert straight.returncode == 0, straight.stderr[-3000:]
    first = run_script(wfvae_train_args(tmp_path / "b", "--train_steps", "3", *common))
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run_script(wfvae_train_args(tmp_path / "b", "--train_steps", "4", "--resume", "True", *common))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert max_diff(ckpt_state(tmp_path / "a", 4), ckpt_state(tmp_path / "b", 4)) < 1e-6
    assert max_diff(ckpt_state(tmp_path / "a", 4, "train_state.ckpt"),
                    ckpt_state(tmp_path / "b", 4, "train_state.ckpt")) < 1e-6
    log_b = [json.loads(line) for line in open(tmp_path / "b" / "train_log.jsonl")]
    assert [r["step"] for r in log_b] == [1, 2, 3, 4] and "disc_loss" in log_b[3]


def test_two_rank_msrun_equals_one_rank(tmp_path):
    """Global batch 2: one process with --batch_size 2 vs msrun 2 workers x --batch_size 1."""
    common = ("--train_steps", "2", "--ckpt_save_interval", "2", "--perceptual_weight", "0")
    one = wfvae_train_args(tmp_path / "one", *common)
    one[one.index("--batch_size") + 1] = "2"
    single = run_script(one)
    assert single.returncode == 0, single.stderr[-3000:]
    result = run_launcher("scripts/launch.sh", wfvae_train_args(tmp_path / "two", *common), 2, 8247,
                          tmp_path / "logs", timeout=600)
    logs = "".join(open(tmp_path / "logs" / f).read()[-3000:] for f in os.listdir(tmp_path / "logs"))
    assert result.returncode == 0, logs
    a, b = ckpt_state(tmp_path / "one", 2), ckpt_state(tmp_path / "two", 2)
    keys = [k for k in a if not k.endswith(".bias")]
    from opensora.io import net_state
    from opensora.models.ae.wfvae import WFVAEModel

    init = net_state(WFVAEModel.from_pretrained(WFVAE))
    num = sum(float(((a[k].astype(np.float64) - b[k]) ** 2).sum()) for k in keys)
    den = sum(float(((a[k].astype(np.float64) - init[k]) ** 2).sum()) for k in keys)
    assert (num / den) ** 0.5 < 5e-3  # relative difference of the two runs' updates
    r0 = json.load(open(tmp_path / "two" / "summary.json"))["weights_checksum"]
    assert r0 == json.load(open(tmp_path / "two" / "summary_rank1.json"))["weights_checksum"]


def test_tiny_cpu_config_runs_compiled(tmp_path):
    """configs/ae/training/wfvae_tiny_cpu.yaml (the README's command), cut to 3 steps with the GAN from step 1:
    compiled generator and discriminator steps."""
    result = run_script(["train.py", "--config", "configs/ae/training/wfvae_tiny_cpu.yaml", "--train_steps", "3",
                         "--disc_start", "1", "--output_path", str(tmp_path), "--ckpt_save_interval", "3"])
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in open(tmp_path / "train_log.jsonl")]
    assert "total_loss" in rows[0] and "disc_loss" in rows[1] and rows[2]["d_weight"] > 0
    assert result.stdout.count("compiling the WF-VAE generator step graph") == 1


def test_wfvae_options_are_refused_for_the_causal_vae(tmp_path):
    result = run_script(["train.py", "--model_config", fixture_path("causalvae_tiny", "config.json"), "--data_path",
                         CLIPS, "--loss_type", "l2", "--output_path", str(tmp_path)])
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("[WARNING]")]
    assert result.returncode == 2 and len(lines) == 1 and "WF-VAE loss options" in lines[0], result.stderr[-2000:]
