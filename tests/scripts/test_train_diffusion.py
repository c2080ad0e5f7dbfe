"""train_diffusion.py on a tiny stack: real bundled clips, cached tiny-T5 embeddings, tiny VAE and LatteT2V."""

import json
import os
import shutil

import numpy as np
import pytest
from conftest import fixture_path, run_launcher, run_script, train_args, weights

from opensora.io import read_state_dict
from opensora.utils.errors import UserError


def test_steps_change_weights_and_resume_is_exact(tmp_path, train_data):
    straight = run_script(train_args(train_data, tmp_path / "a", "--train_steps", "4", "--ckpt_save_interval", "2",
                                     "--use_ema", "--clip_grad"))
    assert straight.returncode == 0, straight.stderr
    summary = json.load(open(tmp_path / "a" / "summary.json"))
    assert summary["steps"] == 4 and np.isfinite(summary["final_loss"])
    w2, w4 = weights(tmp_path / "a", 2), weights(tmp_path / "a", 4)
    assert any(not np.array_equal(w2[k], w4[k]) for k in w2)  # training changes the weights
    first = run_script(train_args(train_data, tmp_path / "b", "--train_steps", "2", "--ckpt_save_interval", "2",
                                  "--use_ema", "--clip_grad"))
    assert first.returncode == 0, first.stderr
    resumed = run_script(train_args(train_data, tmp_path / "b", "--train_steps", "4", "--ckpt_save_interval", "2",
                                    "--use_ema", "--clip_grad", "--resume", "True"))
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    b4 = weights(tmp_path / "b", 4)
    for k in w4:
        np.testing.assert_array_equal(w4[k], b4[k], err_msg=k)
    # the step log of the resumed run reads as one run (the first run's lines kept once), with the same losses
    logs = {run: [json.loads(line) for line in open(tmp_path / run / "train_log.jsonl")] for run in "ab"}
    assert [row["step"] for row in logs["b"]] == [1, 2, 3, 4]
    assert [row["loss"] for row in logs["b"]] == [row["loss"] for row in logs["a"]]
    assert (tmp_path / "b" / "loss_curves.png").stat().st_size > 1000
    ema_a = read_state_dict(str(tmp_path / "a" / "ckpt" / "step_00000004" / "train_state.ckpt"))
    ema_b = read_state_dict(str(tmp_path / "b" / "ckpt" / "step_00000004" / "train_state.ckpt"))
    for k in ema_a:
        np.testing.assert_array_equal(ema_a[k], ema_b[k], err_msg=k)


def make_run(data, out, mse_weight=None, timestep_range=None, **overrides):
    from opensora.train.t2v_setup import T2VTraining
    from opensora.utils.config import parse_args
    from train_diffusion import build_parser

    args = parse_args(build_parser(), train_args(data, out)[1:])
    vars(args).update(overrides)
    return T2VTraining(args, timestep_range=timestep_range, mse_weight=mse_weight)


def test_ten_steps_on_one_batch_lower_its_loss(tmp_path, train_data):
    import mindspore as ms

    run = make_run(train_data, tmp_path / "o", batch_size=1)
    rngs = [np.random.default_rng(0)]
    batch = run.dataset.batch([0], rngs)
    latents = run.task.encode(batch, rngs)
    t, noise = np.array([300], np.int32), rngs[0].standard_normal(latents.shape).astype(np.float32)
    inputs = (ms.Tensor(latents), ms.Tensor(t), ms.Tensor(noise), ms.Tensor(batch["text"]), ms.Tensor(batch["mask"]))
    before = float(run.task.loss(*inputs).asnumpy())
    for _ in range(10):
        run.trainer.step(1e-3, *inputs)
    after = float(run.task.loss(*inputs).asnumpy())
    assert after < 0.8 * before, (before, after)


def test_image_joint_batches(tmp_path, train_data):

    run = make_run(train_data, tmp_path / "j", use_image_num=2)
    run.latte.set_train(True)
    batch = run.next_batch()
    assert batch["video"].shape == (2, 3, 5, 32, 32) and batch["images"].shape == (2, 3, 2, 32, 32)
    assert batch["text"].shape == (2, 3, 16, 64) and batch["mask"].shape == (2, 3, 16)
    np.testing.assert_array_equal(batch["text"][:, 0], batch["text"][:, 2])  # captions repeated for the images
    latents = run.task.encode(batch, run.rngs)
    assert latents.shape == (2, 4, 2 + 2, 4, 4)  # 2 latent video frames + 2 image latents
    info = run.train_step()
    assert np.isfinite(info["loss"])


def test_overflow_step_is_skipped_and_scale_lowered(tmp_path, train_data):
    """A non-finite loss (as fp16 overflow produces) skips the update and halves the dynamic loss scale."""
    import mindspore as ms

    run = make_run(train_data, tmp_path / "f")
    trainer = run.trainer
    trainer.scaler.dynamic, trainer.scaler.scale = True, 1024.0
    before = {p.name: p.asnumpy().copy() for p in trainer.params}
    batch = run.next_batch()
    latents = run.task.encode(batch, run.rngs)
    t, noise = run.task.draw(latents, run.rngs)
    noise[0, 0, 0, 0, 0] = np.inf
    info = trainer.step(1e-3, ms.Tensor(latents), ms.Tensor(t), ms.Tensor(noise), ms.Tensor(batch["text"]),
                        ms.Tensor(batch["mask"]))
    assert info["overflow"] and not info["updated"] and trainer.scaler.scale == 512.0
    assert all(np.array_equal(before[p.name], p.asnumpy()) for p in trainer.params)


@pytest.mark.parametrize("case", ["empty", "missing_video", "missing_embedding", "short", "column"])
def test_dataset_errors(tmp_path, train_data, case):
    ann = tmp_path / "ann.csv"
    text = {"empty": "video,caption\n", "missing_video": "video,caption\nclips/nope.mp4,x\n",
            "missing_embedding": "video,caption\nclips/bikes.mp4,x\nclips/other.mp4,y\n",
            "short": "video,caption\nclips/bikes.mp4,x\n", "column": "path,caption\nclips/bikes.mp4,x\n"}[case]
    ann.write_text(text)
    if case == "missing_embedding":
        shutil.copy(train_data / "clips" / "bikes.mp4", train_data / "clips" / "other.mp4")
    extra = ["--num_frames", "65"] if case == "short" else []
    args = train_args(train_data, tmp_path / "o", "--train_steps", "1", *extra)
    args[args.index("--data_file_path") + 1] = str(ann)
    result = run_script(args)
    expected = {
        "empty": "no rows",
        "missing_video": "1 of 1 videos missing",
        "missing_embedding": "1 of 2 text embeddings missing",
        "short": "do not match the model",
        "column": "no column 'video'",
    }[case]
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    if case == "missing_embedding":
        os.remove(train_data / "clips" / "other.mp4")


def test_short_video_is_skipped_with_a_counter(tmp_path, train_data):
    from opensora.dataset.t2v_dataset import TextVideoDataset

    ds = TextVideoDataset(
        str(train_data / "ann.csv"),
        str(train_data),
        str(train_data),
        num_frames=17,
        frame_stride=3,
        image_size=32,
        max_bad_samples=1,
    )
    with pytest.raises(UserError, match="more than 1 unreadable samples"):
        ds.get(0, np.random.default_rng(0))
    assert ds.bad_samples == 2


def test_two_rank_msrun_equals_one_rank(tmp_path, train_data):
    """Global batch 2: one process with --batch_size 2 vs 2 workers x --batch_size 1 through the msrun launcher
    (scripts/cpu/train_latte.sh, mccl on CPU)."""
    single = run_script(train_args(train_data, tmp_path / "one", "--train_steps", "2", "--ckpt_save_interval", "2"))
    assert single.returncode == 0, single.stderr
    args = train_args(train_data, tmp_path / "two", "--train_steps", "2", "--ckpt_save_interval", "2")[1:]
    args[args.index("--batch_size") + 1] = "1"
    result = run_launcher("scripts/cpu/train_latte.sh", args, 2, 8231, tmp_path / "logs", timeout=600)
    logs = "".join(open(tmp_path / "logs" / f).read()[-3000:] for f in os.listdir(tmp_path / "logs"))
    assert result.returncode == 0, logs
    one, two = weights(tmp_path / "one", 2), weights(tmp_path / "two", 2)
    worst = max(float(np.abs(one[k] - two[k]).max()) for k in one)
    assert worst < 1e-4, worst  # fp32 noise of batched vs per-rank compute, through 2 AdamW steps at lr 1e-3
    r0 = json.load(open(tmp_path / "two" / "summary.json"))["weights_checksum"]
    r1 = json.load(open(tmp_path / "two" / "summary_rank1.json"))["weights_checksum"]
    assert r0 == r1  # both ranks hold identical weights


def test_cached_latents_and_sample_videos(tmp_path, train_data):
    cache = tmp_path / "latents"
    made = run_script(
        [
            "tools/cache_vae_latents.py",
            "--data_file_path",
            str(train_data / "ann.csv"),
            "--video_folder",
            str(train_data),
            "--output_dir",
            str(cache),
            "--num_frames",
            "5",
            "--image_size",
            "32",
            "--vae_config",
            fixture_path("causalvae_tiny"),
            "--vae_checkpoint",
            "",
        ]
    )
    assert made.returncode == 0, made.stderr
    cached = np.load(cache / "clips" / "bikes.npz")
    assert cached["latent_mean"].shape == cached["latent_std"].shape == (4, 2, 4, 4)
    # the suggested scale factor is 1 / std of every cached posterior mean
    means = np.concatenate([np.load(p)["latent_mean"].ravel() for p in sorted((cache / "clips").glob("*.npz"))])
    assert f"--sd_scale_factor {1 / means.astype(np.float64).std():.4f}" in made.stdout
    # both clips in one compiled call: the same posteriors
    batched = run_script(
        [
            "tools/cache_vae_latents.py",
            "--data_file_path",
            str(train_data / "ann.csv"),
            "--video_folder",
            str(train_data),
            "--output_dir",
            str(tmp_path / "batched"),
            "--num_frames",
            "5",
            "--image_size",
            "32",
            "--vae_config",
            fixture_path("causalvae_tiny"),
            "--vae_checkpoint",
            "",
            "--batch_size",
            "2",
            "--jit",
            "True",
        ]
    )
    assert batched.returncode == 0, batched.stderr
    for name in ("bikes.npz", "bigbuckbunny.npz"):
        one, two = np.load(cache / "clips" / name), np.load(tmp_path / "batched" / "clips" / name)
        for key in ("latent_mean", "latent_std"):
            np.testing.assert_allclose(two[key], one[key], rtol=1e-5, atol=1e-5, err_msg=f"{name} {key}")
    result = run_script(
        train_args(
            train_data,
            tmp_path / "o",
            "--train_steps",
            "2",
            "--vae_latent_folder",
            str(cache),
            "--sample_interval",
            "2",
            "--sample_steps",
            "ddim5",
        )
    )
    assert result.returncode == 0, result.stderr
    assert np.isfinite(json.load(open(tmp_path / "o" / "summary.json"))["final_loss"])
    from opensora.dataset.video_io import read_video_clip

    assert read_video_clip(str(tmp_path / "o" / "samples" / "step_00000002.mp4"), 5, 1).shape == (5, 32, 32, 3)


def test_fp16_mixed_precision_run(tmp_path, train_data):
    result = run_script(
        train_args(
            train_data,
            tmp_path / "h",
            "--train_steps",
            "2",
            "--dtype",
            "fp16",
            "--init_loss_scale",
            "1024",
            "--ckpt_save_interval",
            "2",
        )
    )
    assert result.returncode == 0, result.stderr
    assert np.isfinite(json.load(open(tmp_path / "h" / "summary.json"))["final_loss"])
    w = weights(tmp_path / "h", 2)
    assert all(v.dtype == np.float32 for v in w.values())  # fp32 master weights
    assert set(w) == set(weights(tmp_path / "h", 2)) and all(not k.startswith("_backbone") for k in w)


def test_compiled_step_with_recompute_and_pynative_agree(tmp_path, train_data):
    """--jit (default) with --use_recompute (as the 17x256 config), and --jit False, train the same weights."""
    runs = {"recompute": ("--use_recompute", "True"), "pynative": ("--jit", "False")}
    for name, flags in runs.items():
        result = run_script(
            train_args(train_data, tmp_path / name, "--train_steps", "2", "--ckpt_save_interval", "2", *flags)
        )
        assert result.returncode == 0, result.stderr
        compiling = "compiling the LatteT2V train step (loss + gradients) graph (first step; ~10-20 s on CPU"
        assert (compiling in result.stdout) == (name == "recompute") and result.stdout.count("compiling") <= 1
    a, b = weights(tmp_path / "recompute", 2), weights(tmp_path / "pynative", 2)
    # A key bias has an exactly zero true gradient (softmax ignores a shift shared by all keys); Adam turns its
    # float noise into steps of about lr whose sign differs between the two runs, so those are not compared.
    for k in (k for k in a if not k.endswith("to_k.bias")):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_caption_dropout_for_guidance(tmp_path, train_data):
    """--cfg p swaps a caption for the empty prompt's embedding (infer_t5.py --captions' negative_text_emb) with
    probability p, from the per-sample generator (so a resume redraws the same swaps); --cfg 0 leaves the random
    streams of existing runs as they were."""
    from opensora.dataset.t2v_dataset import TextVideoDataset

    null_npz = tmp_path / "null.npz"
    made = run_script(
        [
            "infer_t5.py",
            "--captions",
            "anything",
            "--output_path",
            str(null_npz),
            "--t5_model_dir",
            fixture_path("t5_tiny", "hf"),
            "--t5_max_length",
            "16",
        ]
    )
    assert made.returncode == 0, made.stderr
    with np.load(null_npz) as z:
        null = z["negative_text_emb"][0], z["negative_mask"][0].astype(np.int32)
    common = (str(train_data / "ann.csv"), str(train_data), str(train_data))
    plain = TextVideoDataset(*common, num_frames=5, image_size=32)
    dropping = TextVideoDataset(*common, num_frames=5, image_size=32, caption_dropout=0.5, null_text=null)
    swapped = []
    for k in range(40):
        a = plain.get(k % 2, np.random.default_rng(k))
        b = dropping.get(k % 2, np.random.default_rng(k))
        np.testing.assert_array_equal(a["video"], b["video"])  # same clip, crop and frames either way
        is_null = np.array_equal(b["text"], null[0]) and np.array_equal(b["mask"], null[1])
        assert is_null or (np.array_equal(b["text"], a["text"]) and np.array_equal(b["mask"], a["mask"]))
        swapped.append(is_null)
        again = dropping.get(k % 2, np.random.default_rng(k))
        assert np.array_equal(again["text"], b["text"])  # a function of the sample's generator
    assert 10 <= sum(swapped) <= 30, sum(swapped)
    assert not np.array_equal(null[0], plain.get(0, np.random.default_rng(0))["text"])

    run = run_script(
        train_args(train_data, tmp_path / "o", "--train_steps", "2", "--cfg", "0.5", "--null_text_embed", str(null_npz))
    )
    assert run.returncode == 0, run.stderr
    missing = run_script(train_args(train_data, tmp_path / "m", "--train_steps", "1", "--cfg", "0.1"))
    assert missing.returncode == 2 and "--null_text_embed" in missing.stderr.strip().splitlines()[-1], missing.stderr


def test_demo_training_options_live_in_the_examples_entry(tmp_path, train_data):
    """--timestep_range / --x0_weight_cap are the demo model's experiments (examples/toy_world/train_latte.py), not
    train_diffusion.py's flags; out-of-range values are one-line errors naming the flag."""
    core = run_script(train_args(train_data, tmp_path / "c", "--train_steps", "1", "--x0_weight_cap", "10"))
    assert core.returncode == 2 and "--x0_weight_cap" in core.stderr, core.stderr[-2000:]
    toy = ["examples/toy_world/train_latte.py", *train_args(train_data, tmp_path / "o")[1:], "--train_steps", "1"]
    for flags, message in ((["--timestep_range", "600", "1200"], "--timestep_range 600 1200"),
                           (["--x0_weight_cap", "0.5"], "--x0_weight_cap 0.5")):
        run = run_script(toy + flags)
        assert run.returncode == 2 and message in run.stderr.strip().splitlines()[-1], run.stderr[-2000:]


def test_per_timestep_mse_weights_reach_the_loss(tmp_path, train_data):
    from toy_world.loss_weights import x0_capped_weights

    from opensora.diffusion import create_diffusion

    abar = create_diffusion("").alphas_cumprod
    plain = make_run(train_data, tmp_path / "p")
    np.testing.assert_array_equal(plain.task.loss.mse_weight.asnumpy(), np.ones(1000, np.float32))  # the original
    weighted = make_run(train_data, tmp_path / "w", mse_weight=x0_capped_weights(abar, 200.0),
                        timestep_range=(500, 1000))
    np.testing.assert_array_equal(weighted.task.loss.mse_weight.asnumpy(), x0_capped_weights(abar, 200.0))
    assert weighted.task.timestep_range == (500, 1000)
    with pytest.raises(UserError, match="mse_weight: one weight per timestep"):
        make_run(train_data, tmp_path / "b", mse_weight=np.ones(10))


def test_the_toy_entry_trains_with_its_options_and_records_them(tmp_path, train_data):
    out = tmp_path / "toy"
    run = run_script(["examples/toy_world/train_latte.py", *train_args(train_data, out)[1:], "--train_steps", "1",
                      "--timestep_range", "500", "1000", "--x0_weight_cap", "100"])
    assert run.returncode == 0, run.stderr[-3000:]
    import yaml

    saved = yaml.safe_load(open(out / "config.yaml"))
    assert saved["timestep_range"] == [500, 1000] and saved["x0_weight_cap"] == 100.0
    assert json.load(open(out / "summary.json"))["steps"] == 1


def test_missing_checkpoint_names_the_flag_and_the_conversion_command(tmp_path, train_data):
    """Checked with the data, before any model is built."""
    result = run_script(train_args(train_data, tmp_path / "o", "--train_steps", "1", "--pretrained_model_path",
                                   str(tmp_path / "t2v.ckpt")))
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert "--pretrained_model_path" in line and "tools/model_conversion/convert_latte.py" in line, line
    assert "Traceback" not in result.stderr and "tensors from" not in result.stderr
    missing_vae = tmp_path / "vae.ckpt"
    result = run_script(train_args(train_data, tmp_path / "o2", "--train_steps", "1", "--vae_checkpoint",
                                   str(missing_vae)))
    assert result.returncode == 2
    assert f"--vae_checkpoint {missing_vae}: not found; convert the release with python " \
           "tools/model_conversion/convert_vae.py" in result.stderr, result.stderr
