"""Bad inputs and faults: one-line errors naming the file or flag, and nothing finished is lost.
Each test is a row of docs/reliability.md."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import CLIPS, REPO, fixture_path, run_script, t2v_args, train_args, weights

from opensora.pipelines.io import safe_name
from opensora.utils.errors import UserError

TINY_VAE = fixture_path("causalvae_tiny")


def one_line_error(result):
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.startswith("error:")]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_image_where_video_expected_and_back(tmp_path):
    import cv2
    from skimage import data

    png = tmp_path / "still.png"
    cv2.imwrite(str(png), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    as_video = run_script(
        [
            "infer_ae.py",
            "--model_config",
            TINY_VAE,
            "--data_path",
            str(png),
            "--dataset_name",
            "video",
            "--output_path",
            str(tmp_path / "o"),
        ]
    )
    assert "not a folder of videos" in one_line_error(as_video)
    as_image = run_script(
        [
            "infer_ae.py",
            "--model_config",
            TINY_VAE,
            "--data_path",
            os.path.join(CLIPS, "bikes.mp4"),
            "--dataset_name",
            "image",
            "--output_path",
            str(tmp_path / "o"),
        ]
    )
    assert "not a folder of images" in one_line_error(as_image)


@pytest.mark.parametrize("script", ["infer_ae", "infer_diffusion", "infer_t5", "train_diffusion"])
def test_output_directory_not_writable(tmp_path, script, tiny_t2v_models):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    target = str(blocker / "out")  # a file where a folder is needed: cannot be created even as root
    args = {
        "infer_ae": [
            "infer_ae.py",
            "--model_config",
            TINY_VAE,
            "--data_path",
            CLIPS,
            "--num_frames",
            "5",
            "--output_path",
            target,
        ],
        "infer_diffusion": t2v_args(tiny_t2v_models, target),
        "infer_t5": [
            "infer_t5.py",
            "--captions",
            "a fox",
            "--t5_model_dir",
            fixture_path("t5_tiny", "hf"),
            "--output_path",
            target + "/x.npz",
        ],
        "train_diffusion": [
            "train_diffusion.py",
            "--data_file_path",
            str(tmp_path / "ann.csv"),
            "--video_folder",
            CLIPS,
            "--text_embed_folder",
            str(tmp_path),
            "--output_path",
            target,
        ],
    }[script]
    if script == "train_diffusion":
        (tmp_path / "ann.csv").write_text("video,caption\nbikes.mp4,bikes\n")
        np.savez(tmp_path / "bikes.npz", text_emb=np.zeros((4, 64), np.float32), mask=np.ones(4, np.uint8))
    line = one_line_error(run_script(args))
    assert "cannot write there" in line and "a_file" in line


def test_caption_longer_than_max_length_is_truncated_with_a_warning(tmp_path):
    out = tmp_path / "long.npz"
    result = run_script(
        [
            "infer_t5.py",
            "--captions",
            "a red fox runs " * 20,
            "--t5_max_length",
            "8",
            "--t5_model_dir",
            fixture_path("t5_tiny", "hf"),
            "--output_path",
            str(out),
        ]
    )
    assert result.returncode == 0, result.stderr
    assert "only the first 8 are used" in result.stdout
    assert np.load(out)["text_emb"].shape == (1, 8, 64)


@pytest.mark.parametrize(
    "prompt", ["../../etc/passwd", "line one\nline two", "x" * 500, 'a/b\\c:d*e?f"g<h>i|j', "\x00\x1b[31mred"]
)
def test_prompt_file_names_are_safe(prompt):
    name = safe_name(7, prompt)
    assert name.startswith("007-") and len(name) <= 84
    assert "/" not in name and "\\" not in name and ".." not in name
    assert all(ch.isprintable() for ch in name)


def test_disk_full_while_writing_a_checkpoint_keeps_the_previous(tmp_path, monkeypatch):
    from opensora.train import checkpoint as ck

    ckpt_dir = str(tmp_path / "ckpt")
    model = {"w": np.ones(3, np.float32)}
    first = ck.save_training_state(ckpt_dir, 1, model, {"m": np.zeros(3, np.float32)}, {"loss_scale": 1})
    real_save = ck.save_state

    def full_disk(state, path):
        if path.endswith("train_state.ckpt"):
            raise OSError(28, "No space left on device")
        return real_save(state, path)

    monkeypatch.setattr(ck, "save_state", full_disk)
    with pytest.raises(UserError, match="No space left on device.*step_00000001 is intact"):
        ck.save_training_state(ckpt_dir, 2, {"w": np.full(3, 2, np.float32)}, {"m": np.zeros(3, np.float32)}, {})
    assert ck.list_checkpoints(ckpt_dir) == [first]
    assert sorted(os.listdir(ckpt_dir)) == ["step_00000001"]  # no partial folder left behind
    model_state, _, meta = ck.load_training_state(first)
    np.testing.assert_array_equal(model_state["w"], np.ones(3, np.float32))


def test_sigkill_mid_run_then_resume_matches_uninterrupted(tmp_path, train_data):
    straight = run_script(train_args(train_data, tmp_path / "a", "--train_steps", "4", "--ckpt_save_interval", "1"))
    assert straight.returncode == 0, straight.stderr
    args = train_args(train_data, tmp_path / "b", "--train_steps", "4", "--ckpt_save_interval", "1")
    proc = subprocess.Popen([sys.executable, *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not os.path.isdir(tmp_path / "b" / "ckpt" / "step_00000002") and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait()
    resumed = run_script(args + ["--resume", "True"])
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    a, b = weights(tmp_path / "a", 4), weights(tmp_path / "b", 4)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # a kill during a save can leave a .tmp_ folder: it is never listed as a checkpoint and the next save replaces it


def test_msrun_twice_on_the_same_port_is_a_clear_error(tmp_path, train_data):
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    base = [
        os.path.join(bin_dir, "msrun"),
        "--worker_num=2",
        "--local_worker_num=2",
        "--join=True",
        "--master_port=8277",
    ]
    first = subprocess.Popen(
        base
        + [
            f"--log_dir={tmp_path / 'l1'}",
            *train_args(
                train_data, tmp_path / "o1", "--train_steps", "50", "--use_parallel", "True", "--batch_size", "1"
            ),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(10)  # let the first job's scheduler take the port
        second = subprocess.run(
            base
            + [
                f"--log_dir={tmp_path / 'l2'}",
                *train_args(
                    train_data, tmp_path / "o2", "--train_steps", "1", "--use_parallel", "True", "--batch_size", "1"
                ),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert second.returncode != 0
    logs = "".join(open(tmp_path / "l2" / f).read() for f in os.listdir(tmp_path / "l2"))
    errors = [ln for ln in logs.splitlines() if ln.startswith("error:")]
    assert any("--master_port" in ln for ln in errors) and "Address already in use" in logs, errors


def test_resume_passes_over_a_damaged_checkpoint_and_a_torn_log_line(tmp_path, train_data):
    """The newest checkpoint's train_state.json damaged and the step log's last line torn (a crash mid-write):
    --resume True says which checkpoint it skips, continues from the one before, and the log reads as one run
    equal to an uninterrupted one. An explicitly named damaged checkpoint is a one-line error naming its file."""
    import json

    straight = run_script(train_args(train_data, tmp_path / "a", "--train_steps", "3", "--ckpt_save_interval", "1"))
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "b"
    first = run_script(train_args(train_data, out, "--train_steps", "2", "--ckpt_save_interval", "1"))
    assert first.returncode == 0, first.stderr
    (out / "ckpt" / "step_00000002" / "train_state.json").write_text('{"step": 2, "epo')  # torn
    with open(out / "train_log.jsonl", "a") as f:
        f.write('{"step": 3, "lo')  # a line the killed run never finished
    damaged = str(out / "ckpt" / "step_00000002")
    named = run_script(train_args(train_data, out, "--train_steps", "3", "--resume", damaged))
    lines = [line for line in named.stderr.strip().splitlines() if not line.startswith("[WARNING]")]
    assert named.returncode == 2 and len(lines) == 1 and "train_state.json: damaged training state" in lines[0]
    resumed = run_script(train_args(train_data, out, "--train_steps", "3", "--ckpt_save_interval", "1",
                                    "--resume", "True"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    log = resumed.stdout + resumed.stderr
    assert "skipping" in log and "step_00000002" in log and "resumed from" in log
    rows = [json.loads(line) for line in open(out / "train_log.jsonl")]
    assert [r["step"] for r in rows] == [1, 2, 3]
    a, b = weights(tmp_path / "a", 3), weights(out, 3)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_text_encoder_width_must_match_the_models_caption_channels(tmp_path, tiny_t2v_models, train_data):
    """A T5 of another width is named up front (before: a MatMul shape traceback mid-run), for sampling and training."""
    import json

    config = json.load(open(os.path.join(tiny_t2v_models["latte_dir"], "config.json")))
    config["caption_channels"] = 32
    (tmp_path / "narrow.json").write_text(json.dumps(config))
    args = t2v_args(tiny_t2v_models, tmp_path / "o")
    args[args.index("--model_config") + 1] = str(tmp_path / "narrow.json")
    line = one_line_error(run_script(args))
    assert "its embeddings are 64 wide, the model's" in line and "caption_channels is 32" in line, line
    config = json.load(open(train_data / "latte.json"))
    config["caption_channels"] = 32
    (tmp_path / "narrow_train.json").write_text(json.dumps(config))
    args = train_args(train_data, tmp_path / "t")
    args[args.index("--model_config") + 1] = str(tmp_path / "narrow_train.json")
    line = one_line_error(run_script(args))
    assert "--text_embed_folder" in line and "64 wide" in line and "caption_channels is 32" in line, line


def test_a_decoding_failure_keeps_the_denoised_latents(tmp_path, tiny_t2v_models):
    """The VAE checkpoint is found unreadable only after the denoising loop: the latents are saved, and decoding
    them later gives the video an unbroken run gives."""
    broken = tmp_path / "vae.ckpt"
    broken.write_bytes(b"not a checkpoint" * 64)
    args = t2v_args(tiny_t2v_models, tmp_path / "o", "--captions", "a dog", "--sample_method", "DDIM")
    failed = run_script(args + ["--vae_checkpoint", str(broken)])
    line = one_line_error(failed)
    assert "vae.ckpt" in line and "the denoised latents are saved in" in line, line
    run = os.path.join(tmp_path / "o", os.listdir(tmp_path / "o")[0])
    assert os.path.isfile(os.path.join(run, "000-a dog.npy"))
    decoded = run_script(t2v_args(tiny_t2v_models, tmp_path / "d", "--captions", "a dog", "--sample_method", "DDIM",
                                  "--decode_latents", "--input_latents_dir", run, "--guidance_scale", "1"))
    assert decoded.returncode == 0, decoded.stderr[-2000:]
    assert "--guidance_scale 1.0: <= 1 turns classifier-free guidance off" in decoded.stdout
    whole = run_script(args)
    assert whole.returncode == 0, whole.stderr[-2000:]
    from opensora.dataset.video_io import read_video_clip

    first = os.path.join(tmp_path / "d", os.listdir(tmp_path / "d")[0], "000-a dog.mp4")
    second = os.path.join(tmp_path / "o", sorted(os.listdir(tmp_path / "o"))[-1], "000-a dog.mp4")
    np.testing.assert_array_equal(read_video_clip(first, 17, 1), read_video_clip(second, 17, 1))


def test_a_damaged_text_embedding_mid_run_is_a_named_skipped_sample(tmp_path, train_data):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(train_data, data)
    damaged = data / "clips" / "bigbuckbunny.npz"
    damaged.write_bytes(damaged.read_bytes()[:100])  # truncated after the run's checks read the first file
    result = run_script(train_args(data, tmp_path / "o", "--train_steps", "1", "--batch_size", "1"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "bigbuckbunny.npz: damaged text embedding file" in result.stdout + result.stderr


@pytest.mark.parametrize("name,text,expected", [
    ("null_path.json", '[{"path": null, "cap": ["a cat"]}]', "row 0 has no video path ('path': None)"),
    ("strings.json", '["a.mp4"]', "row 0 is not an object with 'path' and 'cap'"),
    ("open_quote.csv", 'video,caption\na.mp4,"a cat\nb.mp4,a dog\n', "spans several lines or has extra fields"),
])
def test_malformed_annotations_are_one_line(tmp_path, name, text, expected):
    from opensora.dataset.annotations import read_annotations

    path = tmp_path / name
    path.write_text(text)
    columns = ("path", "cap") if name.endswith(".json") else ("video", "caption")
    with pytest.raises(UserError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        read_annotations(str(path), *columns)


def test_convert_latte_given_a_vae_is_one_line(tmp_path):
    line = one_line_error(run_script(["tools/model_conversion/convert_latte.py", "--src",
                                      fixture_path("causalvae_tiny", "diffusion_pytorch_model.safetensors"),
                                      "--target", str(tmp_path / "x.ckpt")]))
    assert "CausalVAEModel" in line, line
    line = one_line_error(run_script(["tools/model_conversion/convert_latte.py", "--src",
                                      fixture_path("causalvae_tiny"), "--target", str(tmp_path / "x.ckpt")]))
    assert "causalvae_tiny" in line, line


def _launch_two_ranks(tmp_path, train_data, out, *extra):
    """scripts/launch.sh with DEVICES=2 on the CPU, in its own session; -> (Popen, log dir)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_dir = tmp_path / "msrun_logs"
    env = {**os.environ, "DEVICES": "2", "DEVICE_TARGET": "CPU", "PYTHON": sys.executable, "MASTER_PORT": str(port),
           "LOG_DIR": str(log_dir)}
    args = train_args(train_data, out, "--batch_size", "1", *extra)[1:]
    proc = subprocess.Popen(["bash", "scripts/launch.sh", "train_diffusion.py", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    return proc, log_dir


def _processes_mentioning(text):
    """pids of live processes whose command line contains `text` (orphans of a run whose paths contain it)."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    pids.append(int(entry))
        except (OSError, ValueError):
            continue
    return pids


def _finish(proc, timeout):
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return stdout, stderr


def test_a_rank_killed_mid_run_stops_every_rank_and_is_named(tmp_path, train_data):
    """A worker killed mid-run (SIGKILL: what the kernel's out-of-memory killer sends) says nothing itself: msrun
    stops the other rank, the launcher names the killed rank in one last line, and no process is left behind."""
    out = tmp_path / "out"
    proc, log_dir = _launch_two_ranks(tmp_path, train_data, out, "--train_steps", "400")
    started = time.time()
    victim = None
    while victim is None and time.time() - started < 240 and proc.poll() is None:
        time.sleep(1)
        logs = {k: (log_dir / f"worker_{k}.log") for k in (0, 1)}
        if all(p.exists() for p in logs.values()) and "step 2:" in logs[0].read_text(errors="replace"):
            found = [ln for ln in logs[1].read_text(errors="replace").splitlines() if ln.startswith("[msrun] rank 1")]
            victim = int(found[0].rsplit(" ", 1)[1]) if found else None
    assert victim, "the run never reached step 2"
    os.kill(victim, signal.SIGKILL)
    killed = time.time()
    stdout, stderr = _finish(proc, timeout=180)
    assert time.time() - killed < 120 and proc.returncode != 0
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: rank 1 was killed by signal 9 (SIGKILL)") and "worker_1.log" in last, last
    errors = [ln for ln in (stdout + stderr).splitlines() if ln.startswith("error:")]
    assert errors == [last], errors  # named once: no guess about ports from the scheduler
    assert _processes_mentioning(str(out)) == []


def test_a_rank_failing_with_an_error_is_named_once_and_every_rank_exits(tmp_path, train_data):
    """Rank 0 cannot write its step-2 checkpoint (a stale file where its temporary folder goes; a full disk gives
    the same error): its own one-line error is the launcher's last line -- not the scheduler's guess about ports --
    rank 1, waiting in the next step's all-reduce, is stopped, and nothing is left running."""
    out = tmp_path / "out"
    (out / "ckpt").mkdir(parents=True)
    (out / "ckpt" / ".tmp_step_00000002").write_text("in the way")
    started = time.time()
    proc, _ = _launch_two_ranks(tmp_path, train_data, out, "--train_steps", "6", "--ckpt_save_interval", "2")
    stdout, stderr = _finish(proc, timeout=300)
    assert proc.returncode != 0 and time.time() - started < 240
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: rank 0 failed after step 2: ") and "cannot write the step 2 checkpoint" in last
    assert "msrun stopped rank 1" in last and "worker_0.log" in last, last
    own = last[len("error: rank 0 failed after step 2: "):last.index(" (its log: ")]
    errors = {ln for ln in (stdout + stderr).splitlines() if ln.startswith("error:")}
    assert errors == {last, f"error: {own}"}, errors  # rank 0's own line (msrun echoes its log) and the summary
    assert _processes_mentioning(str(out)) == []


def test_a_failed_graph_compilation_leaves_nothing_in_the_working_directory(tmp_path):
    """MindSpore dumps a failed compilation's analysis into ./rank_0/om/ of the folder a user runs from; the entry
    scripts (run_main) send it to the temporary directory unless MS_OM_PATH is set."""
    script = tmp_path / "entry.py"
    script.write_text(
        "import mindspore as ms\nimport numpy as np\nfrom mindspore import ops\n"
        "from opensora.utils.errors import run_main\n\n\n"
        "@ms.jit\ndef product(a, b):\n    return ops.matmul(a, b)\n\n\n"
        "def main(argv):\n    ms.set_context(device_target='CPU')\n    x = ms.Tensor(np.ones((2, 3), np.float32))\n"
        "    product(x, x)\n\n\nrun_main(main)\n")
    work = tmp_path / "work"
    work.mkdir()
    om = tmp_path / "om"
    env = {k: v for k, v in os.environ.items() if k != "MS_OM_PATH"}
    env.update(PYTHONPATH=REPO, TMPDIR=str(om))
    om.mkdir()
    proc = subprocess.run([sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0 and "MatMul" in proc.stderr, proc.stderr[-1000:]
    assert os.listdir(work) == []
    assert list(om.glob("opensora_mindspore_om/rank_0/om/analyze_fail.ir")), list(om.rglob("*"))
