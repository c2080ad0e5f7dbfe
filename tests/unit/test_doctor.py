"""`python -m opensora.doctor`: versions, backend, dtypes with kernels, and the CPU ISA warning."""

from tests.conftest import run_script


def test_doctor_reports_versions_and_dtypes():
    result = run_script(["-m", "opensora.doctor"], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "mindspore   2." in out and "numpy       1." in out
    assert "dtype fp32  available" in out and "dtype fp16  available" in out
    assert "dtype bf16  NOT available" in out  # no bf16 kernels on the CPU backend
    bf16 = next(line for line in out.splitlines() if line.startswith("dtype bf16"))
    assert "Unsupported data type" in bf16 and "----" not in bf16, bf16  # MindSpore's reason, not its banner
    assert "GFLOP/s" in out and "all checks passed" in out
    # the oneDNN line names the conv and matmul kernels (docs/performance.md: why the CPU conv trails PyTorch's)
    onednn = next(line for line in out.splitlines() if line.startswith("oneDNN"))
    assert "ISA " in onednn and "conv " in onednn and "matmul " in onednn, onednn


def test_isa_warning_names_the_fix(monkeypatch):
    import mindspore as ms

    from opensora.utils import ms_utils

    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(ms, "__version__", "2.10.0")
    monkeypatch.setattr(ms_utils, "_cpu_has_avx512", lambda: True)
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in ms_utils.check_cpu_isa("CPU")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert ms_utils.check_cpu_isa("CPU") is None
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setattr(ms, "__version__", "2.7.2")
    assert ms_utils.check_cpu_isa("CPU") is None


def test_error_reason_skips_mindspore_banners():
    from opensora.utils.errors import error_reason

    text = "\n-----\n- Kernel select failed:\n-----\nSelect CPU operator[Conv2D] fail!\nsupported: Float32\n- C++"
    assert error_reason(RuntimeError(text)) == "Select CPU operator[Conv2D] fail! supported: Float32"
    assert error_reason(ValueError("")) == "ValueError"


def test_caption_cleaning_hint_only_when_the_cleaner_is_asked_for_and_missing(caplog, monkeypatch):
    """The 'install ftfy' hint is for a user who asked for clean_caption without the packages, not for everyone."""
    import logging

    from opensora.models.text_encoder import embedder as emb
    from tests.conftest import fixture_path

    logger = logging.getLogger("hint-test")
    for asked, available, hint in ((False, True, False), (True, True, False), (True, False, True)):
        monkeypatch.setattr(emb, "clean_caption_available", lambda available=available: available)
        with caplog.at_level(logging.INFO, logger="hint-test"):
            caplog.clear()
            emb.T5Embedder(fixture_path("t5_tiny", "hf"), 16, use_clean_caption=asked, logger=logger)
        assert ("install ftfy" in caplog.text) == hint, (asked, available, caplog.text)
