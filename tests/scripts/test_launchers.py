"""scripts/: every launcher builds the command a cluster user expects (checked with stand-in python and msrun
executables that print their arguments); the msrun path runs for real in test_train_vae / test_train_diffusion
(2 CPU workers) and the demo launcher in `make demo` (test_demo_model)."""

import os
import re
import subprocess

import pytest
from conftest import REPO

LAUNCHERS = sorted(os.path.relpath(os.path.join(d, f), REPO) for d, _, files in os.walk(os.path.join(REPO, "scripts"))
                   for f in files if f.endswith(".sh") and f != "launch.sh")


@pytest.fixture()
def stand_ins(tmp_path):
    """A bin/ folder with `python` and `msrun` that print what they were given, one argument a line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python", "msrun"):
        exe = bin_dir / name
        exe.write_text(f'#!/bin/sh\necho "{name}"; for a in "$@"; do echo "$a"; done\n')
        exe.chmod(0o755)
    return bin_dir


def launch(script, stand_ins, *args, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("DEVICES", "DEVICE_TARGET", "MASTER_PORT", "LOG_DIR")}
    env = {**base, "PYTHON": str(stand_ins / "python"), "PATH": f"{stand_ins}:{os.environ['PATH']}",
           **{k: str(v) for k, v in env.items()}}
    return subprocess.run(["bash", script, *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=30)


def test_every_launcher_is_executable_and_names_existing_files():
    assert len(LAUNCHERS) >= 12
    for script in LAUNCHERS:
        path = os.path.join(REPO, script)
        assert os.access(path, os.X_OK), script
        assert subprocess.run(["bash", "-n", path]).returncode == 0, script
        text = open(path).read()
        for config in re.findall(r"--config (configs/\S+)", text):
            assert os.path.isfile(os.path.join(REPO, config)), f"{script}: {config}"
        entry = re.search(r"launch\.sh\"? (\S+\.py)", text).group(1)
        assert os.path.isfile(os.path.join(REPO, entry)), f"{script}: {entry}"


def test_single_device_launch(stand_ins):
    out = launch("scripts/text_condition/sample_latte_17x256x256.sh", stand_ins, "--captions", "a cat", DEVICES=8)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:-1] == ["python", "infer_diffusion.py", "--device_target", "Ascend", "--config",
                                           "configs/diffusion/latte_17x256x256_122.yaml", "--captions", "a cat"]


def test_eight_device_launch(stand_ins, tmp_path):
    log_dir = str(tmp_path / "x")
    out = launch("scripts/text_condition/train_latte_65x512x512_8p.sh", stand_ins, "--resume", "True",
                 MASTER_PORT=9001, LOG_DIR=log_dir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:-1] == [
        "msrun", "--worker_num=8", "--local_worker_num=8", "--master_port=9001", f"--log_dir={log_dir}", "--join=True",
        "train_diffusion.py", "--device_target", "Ascend", "--use_parallel", "True", "--config",
        "configs/diffusion/training/latte_65x512x512_122.yaml", "--resume", "True"]


def test_cpu_launchers_and_bad_device_counts(stand_ins):
    out = launch("scripts/cpu/train_vae_tiny.sh", stand_ins, DEVICES=2)
    assert out.returncode == 0 and out.stdout.split("\n")[:3] == ["msrun", "--worker_num=2", "--local_worker_num=2"]
    assert "--device_target\nCPU\n" in out.stdout
    for bad in ("0", "two", "-1"):
        out = launch("scripts/launch.sh", stand_ins, "train.py", DEVICES=bad)
        assert out.returncode == 2 and f"DEVICES={bad}" in out.stderr, bad
    out = launch("scripts/launch.sh", stand_ins)
    assert out.returncode == 2 and "usage" in out.stderr


def test_a_master_port_held_by_another_program_is_one_line_before_msrun_starts(stand_ins):
    """Before: msrun's workers retried for ever on a port another program held (thousands of log lines)."""
    import socket
    import sys

    with socket.socket() as held:
        held.bind(("0.0.0.0", 0))
        held.listen()
        port = held.getsockname()[1]
        out = launch("scripts/text_condition/train_latte_65x512x512_8p.sh", stand_ins, PYTHON=sys.executable,
                     MASTER_PORT=port)
    assert out.returncode == 2 and "msrun" not in out.stdout, out.stdout
    assert out.stderr.strip() == (f"error: MASTER_PORT={port}: cannot use it for msrun (Address already in use); "
                                  "set MASTER_PORT to a free port"), out.stderr
