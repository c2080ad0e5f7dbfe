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
