"""train_diffusion.py with a v1.3 stack: real clips, cached mT5 embeddings (infer_t5.py with the tiny mT5), the tiny
WF-VAE and a tiny OpenSoraT2V_v1_3, trained with the release's objective (v-prediction, zero terminal SNR, min-SNR
5.0, plus a noise offset), non-square frames; resume is exact."""

import json
import os
import shutil

import numpy as np
import pytest
from conftest import clips_with_embeddings, fixture_path, run_script

from opensora.io import read_state_dict

RELEASE_OBJECTIVE = ["--prediction_type", "v_prediction", "--rescale_betas_zero_snr", "True", "--snr_gamma", "5.0",
                     "--noise_offset", "0.02"]


@pytest.fixture(scope="module")
def v1_3_data(tmp_path_factory):
    root = clips_with_embeddings(tmp_path_factory.mktemp("v1_3_data"), fixture_path("mt5_tiny", "hf"))
    config = json.load(open(fixture_path("v1_3_pipeline", "cases.json")))["transformer_config"]
    (root / "opensora_v1_3.json").write_text(json.dumps(config))
    return root


def v1_3_train_args(data, out, *extra):
    return ["train_diffusion.py", "--data_file_path", str(data / "ann.csv"), "--video_folder", str(data),
            "--text_embed_folder", str(data), "--model_config", str(data / "opensora_v1_3.json"), "--vae_config",
            fixture_path("wfvae_tiny", "ln_release"), "--vae_checkpoint", "", "--num_frames", "9", "--max_height",
            "32", "--max_width", "48", "--batch_size", "2", "--start_learning_rate", "1e-3", "--output_path",
            str(out), *RELEASE_OBJECTIVE, *extra]


def weights(out, step, name="model.ckpt"):
    return read_state_dict(os.path.join(out, "ckpt", f"step_{step:08d}", name))


def test_release_objective_trains_resumes_exactly_and_samples(tmp_path, v1_3_data):
    common = ["--ckpt_save_interval", "2", "--use_ema"]
    straight = run_script(v1_3_train_args(v1_3_data, tmp_path / "a", "--train_steps", "4", *common,
                                          "--sample_interval", "4", "--sample_steps", "2"))
    assert straight.returncode == 0, straight.stderr[-3000:]
    summary = json.load(open(tmp_path / "a" / "summary.json"))
    assert summary["steps"] == 4 and np.isfinite(summary["final_loss"])
    w2, w4 = weights(tmp_path / "a", 2), weights(tmp_path / "a", 4)
    assert any(not np.array_equal(w2[k], w4[k]) for k in w2)
    assert "transformer_blocks.0.attn1.to_q.weight" in w4  # the original's parameter names
    import imageio.v2 as imageio  # decord cannot decode a 48-pixel-wide h264 stream (a stride check)

    video = np.stack(list(imageio.get_reader(str(tmp_path / "a" / "samples" / "step_00000004.mp4")).iter_data()))
    assert video.shape == (9, 32, 48, 3)
    first = run_script(v1_3_train_args(v1_3_data, tmp_path / "b", "--train_steps", "2", *common))
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run_script(v1_3_train_args(v1_3_data, tmp_path / "b", "--train_steps", "4", *common, "--resume",
                                         "True"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    b4 = weights(tmp_path / "b", 4)
    for k in w4:
        np.testing.assert_array_equal(w4[k], b4[k], err_msg=k)
    ema_a, ema_b = weights(tmp_path / "a", 4, "train_state.ckpt"), weights(tmp_path / "b", 4, "train_state.ckpt")
    for k in ema_a:
        np.testing.assert_array_equal(ema_a[k], ema_b[k], err_msg=k)
    logs = {run: [json.loads(line) for line in open(tmp_path / run / "train_log.jsonl")] for run in "ab"}
    assert [row["loss"] for row in logs["b"]] == [row["loss"] for row in logs["a"]]


def test_ten_steps_on_one_batch_lower_its_loss(tmp_path, v1_3_data):
    from opensora.train.t2v_setup import T2VTraining
    from opensora.utils.config import parse_args
    from train_diffusion import build_parser

    args = parse_args(build_parser(), v1_3_train_args(v1_3_data, tmp_path / "o", "--batch_size", "1")[1:])
    run = T2VTraining(args)
    rngs = [np.random.default_rng(0)]
    batch = run.dataset.batch([0], rngs)
    latents = run.task.encode(batch, rngs)
    assert latents.shape == (1, 4, 3, 4, 6)
    t, noise = run.task.draw(latents, rngs)
    inputs = run.task.loss_inputs(latents, np.array([300], np.int32), noise, batch["text"], batch["mask"])
    before = float(run.task.loss(*inputs).asnumpy())
    for _ in range(10):
        run.trainer.step(1e-3, *inputs)
    after = float(run.task.loss(*inputs).asnumpy())
    assert after < 0.8 * before, (before, after)


@pytest.mark.parametrize("flags,expected", [
    (["--num_frames", "10"], "--num_frames 10: must be 4n+1"),
    (["--max_width", "40"], "--max_width 40: must be a multiple of 16"),
    (["--prediction_type", "epsilon"], "weights the last step 0/0"),
    (["--snr_gamma", "-1"], "snr_gamma -1.0: must be > 0"),
    (["--use_image_num", "1"], "--use_image_num: not for v1.3 models here"),
])
def test_bad_flags_are_one_line(tmp_path, v1_3_data, flags, expected):
    result = run_script(v1_3_train_args(v1_3_data, tmp_path, *flags))
    assert result.returncode == 2 and expected in result.stderr, result.stderr[-2000:]


def test_v1_3_flags_on_a_latte_run_and_a_mismatched_vae_are_named(tmp_path, train_data, v1_3_data):
    from conftest import train_args

    result = run_script(train_args(train_data, tmp_path, "--snr_gamma", "5"))
    assert result.returncode == 2 and "--snr_gamma 5.0: for OpenSoraT2V v1.3 models" in result.stderr
    config = json.load(open(v1_3_data / "opensora_v1_3.json"))
    config.update(in_channels=8, out_channels=8)
    (tmp_path / "wide.json").write_text(json.dumps(config))
    args = v1_3_train_args(v1_3_data, tmp_path / "o")
    args[args.index("--model_config") + 1] = str(tmp_path / "wide.json")
    result = run_script(args)
    assert result.returncode == 2 and "its latents have 4 channels, the model's (" in result.stderr
    assert "wide.json) in_channels is 8" in result.stderr


def test_explicit_uniform_timesteps_split_the_schedule_by_rank():
    from opensora.train.v1_3_task import explicit_uniform_timestep

    rng = np.random.default_rng(0)
    draws = {rank: [explicit_uniform_timestep(rng, 1000, 2, rank) for _ in range(400)] for rank in (0, 1)}
    assert 0 <= min(draws[0]) and max(draws[0]) <= 500 and 500 <= min(draws[1]) and max(draws[1]) <= 999
    single = [explicit_uniform_timestep(rng, 1000, 1, 0) for _ in range(2000)]
    assert min(single) == 0 and max(single) == 999 and 400 < np.mean(single) < 600


def test_the_readme_tiny_chain_runs(tmp_path):
    """README "Open-Sora-Plan v1.3 text-to-video": infer_t5 -> train_diffusion -> infer_diffusion on the bundled clips
    and the tiny stand-ins, as written there (outputs moved to tmp_path)."""
    t5 = run_script(["infer_t5.py", "--data_file_path", "assets/clips/captions.csv", "--output_dir",
                     str(tmp_path / "t5"), "--t5_model_dir", "tests/fixtures/mt5_tiny/hf", "--t5_max_length", "16"])
    assert t5.returncode == 0, t5.stderr[-2000:]
    train = run_script(["train_diffusion.py", "--config", "configs/diffusion/training/opensora_v1_3_tiny_cpu.yaml",
                        "--text_embed_folder", str(tmp_path / "t5"), "--output_path", str(tmp_path / "train")])
    assert train.returncode == 0, train.stderr[-2000:]
    checkpoint = tmp_path / "train" / "ckpt" / "step_00000020" / "model.ckpt"
    assert checkpoint.is_file() and (tmp_path / "train" / "samples" / "step_00000020.mp4").is_file()
    infer = run_script(["infer_diffusion.py", "--config", "configs/diffusion/opensora_v1_3_tiny_cpu.yaml",
                        "--checkpoint", str(checkpoint), "--output_path", str(tmp_path / "samples")])
    assert infer.returncode == 0, infer.stderr[-2000:]
    assert "1 videos in" in infer.stdout


def test_duration_buckets_as_the_original_forms_them():
    from opensora.dataset.buckets import closest_encodable_frames, grouped_order

    assert [closest_encodable_frames(n) for n in (28, 29, 30, 33, 92, 93)] == [-1, 29, 29, 33, 89, 93]
    # with sequence parallel the latent frames split evenly (find_closest_y's model_ds_t; its table for 4, 8)
    assert [y for y in range(29, 130) if closest_encodable_frames(y, model_ds_t=8) == y] == [29, 61, 93, 125]
    assert closest_encodable_frames(60, model_ds_t=8) == 29 and closest_encodable_frames(40, model_ds_t=4) == 29
    shapes = [33] * 7 + [29] * 4 + [45] * 1
    for epoch in range(3):
        order = grouped_order(shapes, 2, np.random.default_rng([5, epoch]))
        # full batches; as the original's last_group_data_fun, a batch straddling two groups keeps its majority
        assert len(order) == 12 and set(order) <= set(range(len(shapes))) and len(set(order)) >= 9
        assert all(shapes[a] == shapes[b] for a, b in order.reshape(-1, 2))  # one duration per global batch
    np.testing.assert_array_equal(grouped_order(shapes, 4, np.random.default_rng(1)),
                                  grouped_order(shapes, 4, np.random.default_rng(1)))


def test_short_videos_train_at_their_own_duration_in_grouped_batches(tmp_path, v1_3_data):
    from opensora.dataset.video_io import read_video_clip, write_video

    data = tmp_path / "data"
    shutil.copytree(v1_3_data, data)
    short = read_video_clip(str(data / "clips" / "bikes.mp4"), 30, 1)  # 30 frames: trains at 29
    write_video(str(data / "clips" / "short.mp4"), short, fps=8)
    shutil.copy(data / "clips" / "bikes.npz", data / "clips" / "short.npz")
    with open(data / "ann.csv", "a") as f:
        f.write("clips/short.mp4,people ride bikes\n")
    args = v1_3_train_args(data, tmp_path / "o", "--num_frames", "33", "--drop_short_ratio", "0", "--train_steps",
                           "3", "--max_height", "16", "--max_width", "32")
    mixed = run_script(args)
    assert mixed.returncode == 2 and "add --group_data True" in mixed.stderr, mixed.stderr[-2000:]
    grouped = run_script(args + ["--group_data", "True"])
    assert grouped.returncode == 0, grouped.stderr[-3000:]
    assert "duration buckets: 1 videos shorter than 33 frames, 0 dropped; frame counts {29: 1, 33: 2}" in \
        grouped.stdout + grouped.stderr
    dropped = run_script(v1_3_train_args(data, tmp_path / "d", "--num_frames", "33", "--train_steps", "1",
                                         "--max_height", "16", "--max_width", "32"))
    assert dropped.returncode == 0, dropped.stderr[-2000:]  # the default (1.0): the short video is skipped


def test_two_rank_msrun_trains_v1_3_with_one_set_of_weights(tmp_path, v1_3_data):
    """msrun data parallel (scripts/cpu/train_latte.sh, mccl on CPU) with the v1.3 objective: each rank draws its own
    half of the timesteps (explicit uniform sampling), the gradients are averaged, both ranks end identical."""
    from conftest import run_launcher

    args = v1_3_train_args(v1_3_data, tmp_path / "two", "--train_steps", "2", "--ckpt_save_interval", "2")[1:]
    args[args.index("--batch_size") + 1] = "1"
    result = run_launcher("scripts/cpu/train_latte.sh", args, 2, 8247, tmp_path / "logs", timeout=600)
    logs = "".join(open(tmp_path / "logs" / f).read()[-3000:] for f in os.listdir(tmp_path / "logs"))
    assert result.returncode == 0, logs
    r0 = json.load(open(tmp_path / "two" / "summary.json"))
    r1 = json.load(open(tmp_path / "two" / "summary_rank1.json"))
    assert r0["steps"] == 2 and r0["weights_checksum"] == r1["weights_checksum"]


def test_image_to_video_model_trains_with_the_originals_masks_and_resumes_exactly(tmp_path, v1_3_data):
    """OpenSoraInpaint_v1_3 with configs/diffusion/training/mask_config.yaml (the original's mask types and
    weights): every sample gets a drawn mask, its masked clip encoded beside it; resume is bit-exact."""
    config = json.load(open(fixture_path("v1_3_inpaint", "cases.json")))["inpaint_config"]
    (tmp_path / "inpaint.json").write_text(json.dumps(config))

    def args(out, *extra):
        a = v1_3_train_args(v1_3_data, out, "--mask_config", "configs/diffusion/training/mask_config.yaml",
                            "--ckpt_save_interval", "2", *extra)
        a[a.index("--model_config") + 1] = str(tmp_path / "inpaint.json")
        return a

    straight = run_script(args(tmp_path / "a", "--train_steps", "4", "--sample_interval", "4", "--sample_steps", "2"))
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert (tmp_path / "a" / "samples" / "step_00000004.mp4").stat().st_size > 1000
    w4 = weights(tmp_path / "a", 4)
    assert "pos_embed_mask.1.weight" in w4 and np.abs(w4["pos_embed_mask.1.weight"]).max() > 0  # trained from zero
    first = run_script(args(tmp_path / "b", "--train_steps", "2"))
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run_script(args(tmp_path / "b", "--train_steps", "4", "--resume", "True"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    b4 = weights(tmp_path / "b", 4)
    for k in w4:
        np.testing.assert_array_equal(w4[k], b4[k], err_msg=k)
    bad = run_script(v1_3_train_args(v1_3_data, tmp_path / "c", "--mask_config",
                                     "configs/diffusion/training/mask_config.yaml"))
    assert bad.returncode == 2 and "--mask_config" in bad.stderr and "for OpenSoraInpaint_v1_3" in bad.stderr


def test_training_masks_keep_the_given_frames_and_black_out_the_rest():
    from opensora.train.v1_3_task import InpaintMasks

    masks = InpaintMasks({"i2v": 1.0})
    video = np.random.default_rng(0).uniform(-1, 1, (2, 3, 9, 16, 16)).astype(np.float32)
    masked, compressed = masks.apply(video, [np.random.default_rng(k) for k in range(2)])
    np.testing.assert_array_equal(masked[:, :, 0], video[:, :, 0])  # i2v: frame 0 given
    assert (masked[:, :, 1:] == -1).all()
    assert compressed.shape == (2, 4, 3, 2, 2)
    assert (compressed[:, :, 0] == 0).all() and (compressed[:, :, 1:] == 1).all()
    with pytest.raises(ValueError, match="non-negative weights"):
        InpaintMasks({"sideways": 1.0})
