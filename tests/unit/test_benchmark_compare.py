"""benchmarks/compare.py: the side-by-side benchmark's commands, environment and ratio table (issue 29). The
measurements themselves are opt-in (full sizes, minutes per row); these tests run nothing heavy."""

import importlib.util
import os
import sys

import pytest

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("compare", os.path.join(REPO, "benchmarks", "compare.py"))
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)


def originals(tmp_path):
    checkout, python = tmp_path / "osp", tmp_path / "python"
    checkout.mkdir()
    python.write_text("")
    return ["--original_v1_3", str(checkout), "--torch_python_v1_3", str(python)], str(checkout), str(python)


def test_every_row_names_benchmarks_that_exist():
    for row, (_, ours, theirs, release) in compare.ROWS.items():
        assert os.path.isfile(os.path.join(REPO, ours[0])) and os.path.isfile(os.path.join(REPO, theirs[0])), row
        assert release in ("v1_0", "v1_3")


def test_dry_run_commands_and_the_originals_pythonpath(tmp_path, capsys):
    flags, checkout, python = originals(tmp_path)
    assert compare.main(["--rows", "wfvae_encode,latte", "--dry_run", "--repeats", "2", *flags]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"wfvae_encode: {sys.executable} benchmarks/bench_vae.py --family wfvae --stage encode "
                      "--frames 17 --size 256 --repeats 2 --warmup 1")
    assert out[1] == (f"wfvae_encode (original): {python} benchmarks/original/v1_3/bench_wfvae_original.py encode "
                      "--frames 17 --size 256 --repeats 2 --warmup 1")
    assert out[3] == "latte (original): not configured"  # v1.0's checkout not given
    args = compare.build_parser().parse_args(["--rows", "opensora_v1_3", *flags])
    _, _, env = compare.commands("opensora_v1_3", args, compare.resolve(args)[1])
    assert env["PYTHONPATH"].split(os.pathsep)[0] == checkout


def test_table_of_ratios_from_one_process_per_measurement(tmp_path, monkeypatch, capsys):
    flags, _, python = originals(tmp_path)
    calls = []

    def fake_measure(cmd, env, timeout):
        calls.append(cmd[0])
        return {"median_s": 8.0, "peak_rss_gb": 2.0} if cmd[0] == python else {"median_s": 6.0, "peak_rss_gb": 2.5}

    monkeypatch.setattr(compare, "measure", fake_measure)
    out_json = tmp_path / "r.json"
    compare.main(["--rows", "wfvae_decode,vae_encode", *flags, "--output_json", str(out_json)])
    table = capsys.readouterr().out
    assert calls == [sys.executable, python, sys.executable]  # one after another; v1.0 not configured
    assert ("| wfvae_decode | WF-VAE D8 decode to 17x256x256 | 6.0 s, 2.50 GB | 8.0 s, 2.00 GB | 0.75x | 1.25x |"
            in table)
    assert "| vae_encode | causal VAE encode 1x3x17x256x256 | 6.0 s, 2.50 GB | not configured |  |  |" in table
    assert out_json.exists()


def test_result_parsing_and_bad_flags(tmp_path):
    script = tmp_path / "b.py"
    script.write_text("print('command: x')\nprint('{\"median_s\": 1.5, \"peak_rss_gb\": 0.1}')\n")
    assert compare.measure([sys.executable, str(script)], None, 60)["median_s"] == 1.5
    script.write_text("import sys\nsys.exit('boom')\n")
    assert compare.measure([sys.executable, str(script)], None, 60) == {"error": "exit 1: boom"}
    with pytest.raises(SystemExit, match="unknown row"):
        compare.main(["--rows", "vae_encod", "--dry_run"])
    with pytest.raises(SystemExit, match="not a folder"):
        compare.main(["--original_v1_0", str(tmp_path / "missing"), "--dry_run"])
