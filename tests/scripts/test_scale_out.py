"""Sequence parallel (--sp_size) and optimizer-state sharding (--zero_stage 1) under msrun on this CPU (2 workers,
mccl): the split transformer computes what one device does, forward and backward; training over 2 ranks with both
gives one device's losses and weights, and its checkpoint resumes on 1 rank; sampling over 2 ranks writes one
device's video. docs/distributed.md."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, run_launcher, run_script

from opensora.parallel.zero import assign_owners
from opensora.utils.errors import UserError
from tests.scripts import test_infer_diffusion_v1_3 as infer_v1_3
from tests.scripts import test_train_diffusion_v1_3 as train_v1_3

# the v1.3 stacks of the one-device tests (their fixtures, shared)
v1_3_models, v1_3_data = infer_v1_3.v1_3_models, train_v1_3.v1_3_data
SPEC, run_dir_of, v1_3_args = infer_v1_3.SPEC, infer_v1_3.run_dir_of, infer_v1_3.v1_3_args
v1_3_train_args, weights = train_v1_3.v1_3_train_args, train_v1_3.weights


def msrun(script_args, port, log_dir, timeout=600):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
           "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(["msrun", "--worker_num=2", "--local_worker_num=2", "--join=True",
                           f"--master_port={port}", f"--log_dir={log_dir}", *script_args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=env)


def worker_logs(log_dir):
    return "".join(open(os.path.join(log_dir, f), errors="replace").read()[-3000:] for f in sorted(os.listdir(log_dir)))


@pytest.mark.parametrize("jit", [False, True], ids=["pynative", "compiled"])
def test_split_transformer_equals_one_device_forward_and_backward(tmp_path, jit):
    """Both v1.3 transformers over 2 ranks: the gathered output is the one-device output exactly; each rank's
    frames are its slice of it; the ranks' parameter gradients summed are the one-device gradients (fp32 noise of
    a different summation order; compiled: with per-block recompute); the sharded AdamW steps and gathers its state
    as the unsharded one."""
    out = tmp_path / "report"
    done = msrun(["tests/workers/scale_out_checks.py", str(out), str(int(jit))], 8261 + jit, tmp_path / "logs")
    assert done.returncode == 0, worker_logs(tmp_path / "logs")
    for rank in (0, 1):
        report = json.load(open(out / f"rank{rank}.json"))
        assert report["exchange_roundtrip"]
        for model in ("OpenSoraT2V_v1_3", "OpenSoraInpaint_v1_3"):
            r = report[model]
            assert r["forward_max_diff"] <= 1e-6 * r["forward_scale"], (model, r)
            assert r["local_frames_diff"] <= 1e-6 * r["forward_scale"], (model, r)
            assert r["grad_max_diff"] <= 2e-6 * r["grad_scale"], (model, r)
        zero = report["zero"]
        assert zero["weights_max_diff"] == 0.0 and zero["state_equal"] and zero["restored_equal"], zero
        assert zero["moments_on_this_rank"] == zero["owned"] < 5  # each rank holds moments of its share only


def test_owners_balance_the_parameters():
    owners = assign_owners([100, 60, 50, 10, 1], 2)
    assert owners == [0, 1, 1, 0, 0]  # loads 111 / 110
    assert assign_owners([5], 3) == [0]


def test_two_rank_sequence_parallel_and_sharded_training_equal_one_rank_and_resume_on_one(tmp_path, v1_3_data):
    """One device, 3 steps, vs 2 ranks sharing each sample's 4 latent frames (--sp_size 2) with the AdamW moments
    sharded (--zero_stage 1) for 2 steps, resumed on 1 device for the third: the same losses and weights."""
    common = ["--num_frames", "13", "--ckpt_save_interval", "1"]
    one = run_script(v1_3_train_args(v1_3_data, tmp_path / "one", "--train_steps", "3", *common))
    assert one.returncode == 0, one.stderr[-3000:]
    args = v1_3_train_args(v1_3_data, tmp_path / "two", "--train_steps", "2", *common, "--sp_size", "2",
                           "--zero_stage", "1")[1:]
    two = run_launcher("scripts/cpu/train_latte.sh", args, 2, 8265, tmp_path / "logs", timeout=600)
    assert two.returncode == 0, worker_logs(tmp_path / "logs")
    resumed = run_script(v1_3_train_args(v1_3_data, tmp_path / "two", "--train_steps", "3", *common, "--resume",
                                         "True"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    losses = {run: [json.loads(line)["loss"] for line in open(tmp_path / run / "train_log.jsonl")]
              for run in ("one", "two")}
    np.testing.assert_allclose(losses["two"], losses["one"], rtol=1e-5)
    for step in (2, 3):
        a, b = weights(tmp_path / "one", step), weights(tmp_path / "two", step)
        worst = max(float(np.abs(a[k] - b[k]).max()) for k in a)
        assert worst < 1e-5, (step, worst)  # fp32 noise of split vs whole compute through AdamW at lr 1e-3
    state_one = weights(tmp_path / "one", 2, "train_state.ckpt")
    state_two = weights(tmp_path / "two", 2, "train_state.ckpt")
    assert state_one.keys() == state_two.keys()  # the sharded run saved the whole optimizer state
    r0 = json.load(open(tmp_path / "two" / "summary.json"))
    assert r0["steps"] == 3


@pytest.mark.parametrize("flags, expected", [
    (["--sp_size", "2"], "--sp_size 2: needs several ranks: launch with msrun and --use_parallel True"),
    (["--zero_stage", "1"], "--zero_stage 1: needs several ranks"),
])
def test_scale_out_flags_without_msrun_are_one_line(tmp_path, v1_3_data, flags, expected):
    done = run_script(v1_3_train_args(v1_3_data, tmp_path / "o", *flags))
    assert done.returncode != 0 and expected in done.stderr.strip().splitlines()[-1], done.stderr[-2000:]


def test_sp_size_checks_name_the_fix():
    from opensora.parallel.sequence import check_sp_size

    with pytest.raises(UserError, match="must divide the number of ranks"):
        check_sp_size(3, 4)
    with pytest.raises(UserError, match="no groups but the world"):
        check_sp_size(2, 4, subgroups=False)
    check_sp_size(2, 4)  # two groups of 2 where groups exist (Ascend, GPU)
    from opensora.parallel.sequence import check_model_split

    with pytest.raises(UserError, match="--num_frames 9 gives 3 latent frames, which do not split over 2 ranks"):
        check_model_split(2, 9, 3, 24)
    with pytest.raises(UserError, match="the model's 24 attention heads do not split over 5 ranks"):
        check_model_split(5, 81, 20, 24)
    check_model_split(8, 93, 24, 24)  # the release at 93 frames over 8 devices


def test_two_rank_sequence_parallel_sampling_gives_the_one_device_latents(tmp_path, v1_3_models):
    """infer_diffusion.py --sp_size 2 under msrun (EulerAncestral: fresh noise every step): rank 0 writes the
    latents one device does; rank 1 writes nothing."""
    from opensora.pipelines.io import load_latents

    case = SPEC["cases"]["euler_ancestral"]
    flags = v1_3_args(v1_3_models, tmp_path / "one", case, "--save_latents", "--num_frames", "13")
    one = run_script(flags)
    assert one.returncode == 0, one.stderr[-3000:]
    flags[flags.index("--output_path") + 1] = str(tmp_path / "two")
    two = run_launcher("scripts/launch.sh", flags + ["--sp_size", "2"], 2, 8267, tmp_path / "logs", timeout=600)
    assert two.returncode == 0, worker_logs(tmp_path / "logs")
    assert len(os.listdir(tmp_path / "two")) == 1  # one run folder: rank 0's
    (a_name, a), = load_latents(run_dir_of(tmp_path / "one"))
    (b_name, b), = load_latents(run_dir_of(tmp_path / "two"))
    assert a_name == b_name and a.shape == b.shape and a.shape[2] == 4
    assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max(), np.abs(a - b).max()
