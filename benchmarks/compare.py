"""Both implementations on the same shapes in one run: a table of time and memory ratios (docs/performance.md).

    python benchmarks/compare.py --rows all \\
        --original_v1_0 <Open-Sora-Plan checkout at v1.0.0> --original_v1_3 <checkout at v1.3.1> \\
        --torch_python_v1_0 <venv>/bin/python --torch_python_v1_3 <venv>/bin/python
    python benchmarks/compare.py --rows wfvae_encode,wfvae_decode --repeats 2     # flags from the environment:
        # OSP_ORIGINAL_V1_0, OSP_ORIGINAL_V1_3, TORCH_PYTHON_V1_0, TORCH_PYTHON_V1_3 (TORCH_PYTHON for both)

Each measurement runs in a process of its own, one after another (never two at once), so each peak RSS is that
row's and the timings do not share the cores. Ours: this repo's benchmarks/bench_*.py with this interpreter; the
original: benchmarks/original/ with the torch interpreter and the checkout on PYTHONPATH (their docstrings have
the set-up; torch is not part of this project's install). A row whose original side is not configured is timed on
our side only. --dry_run prints the commands and runs nothing. The table is printed (markdown) and, with
--output_json, written with every raw result.
"""

import argparse
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# row -> (what it measures, our command, the original's command, which original release)
ROWS = {
    "vae_encode": ("causal VAE encode 1x3x17x256x256",
                   ["benchmarks/bench_vae.py", "--stage", "encode", "--frames", "17", "--size", "256"],
                   ["benchmarks/original/bench_original.py", "vae_encode", "--frames", "17", "--size", "256"], "v1_0"),
    "vae_decode": ("causal VAE decode to 17x256x256",
                   ["benchmarks/bench_vae.py", "--stage", "decode", "--frames", "17", "--size", "256"],
                   ["benchmarks/original/bench_original.py", "vae_decode", "--frames", "17", "--size", "256"], "v1_0"),
    "latte": ("LatteT2V-XL/122 forward 1x4x5x32x32, 300 tokens, PyNative",
              ["benchmarks/bench_latte.py", "--tokens", "300"],
              ["benchmarks/original/bench_original.py", "latte"], "v1_0"),
    "latte_compiled": ("LatteT2V-XL/122 forward, compiled (--jit)",
                       ["benchmarks/bench_latte.py", "--tokens", "300", "--jit"],
                       ["benchmarks/original/bench_original.py", "latte"], "v1_0"),
    "wfvae_encode": ("WF-VAE D8 encode 1x3x17x256x256",
                     ["benchmarks/bench_vae.py", "--family", "wfvae", "--stage", "encode", "--frames", "17",
                      "--size", "256"],
                     ["benchmarks/original/v1_3/bench_wfvae_original.py", "encode", "--frames", "17", "--size", "256"],
                     "v1_3"),
    "wfvae_decode": ("WF-VAE D8 decode to 17x256x256",
                     ["benchmarks/bench_vae.py", "--family", "wfvae", "--stage", "decode", "--frames", "17",
                      "--size", "256"],
                     ["benchmarks/original/v1_3/bench_wfvae_original.py", "decode", "--frames", "17", "--size", "256"],
                     "v1_3"),
    "opensora_v1_3": ("OpenSoraT2V_v1_3-2B/122 forward 1x8x1x44x80, 512 tokens",
                      ["benchmarks/bench_opensora_v1_3.py", "--frames", "1", "--height", "352", "--width", "640",
                       "--tokens", "512"],
                      ["benchmarks/original/v1_3/bench_opensora_v1_3_original.py", "--frames", "1", "--height", "352",
                       "--width", "640", "--tokens", "512"], "v1_3"),
}
ENV = {"original_v1_0": "OSP_ORIGINAL_V1_0", "original_v1_3": "OSP_ORIGINAL_V1_3",
       "torch_python_v1_0": "TORCH_PYTHON_V1_0", "torch_python_v1_3": "TORCH_PYTHON_V1_3"}


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", default="all", help=f"all, or a comma-separated list of: {', '.join(ROWS)}")
    p.add_argument("--repeats", type=int, default=1, help="timed calls per measurement (the median is reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls first (the first call compiles kernels)")
    for flag, env in ENV.items():
        p.add_argument(f"--{flag}", default="", help=f"default: ${env}" + (" or $TORCH_PYTHON" if "python" in flag
                                                                            else ""))
    p.add_argument("--timeout", type=int, default=3600, help="seconds per measurement")
    p.add_argument("--output_json", default="", help="also write the rows and raw results here")
    p.add_argument("--dry_run", action="store_true", help="print the commands, run nothing")
    return p


def resolve(args):
    """Rows to run and, per release, (torch python, checkout) or None where either is missing."""
    rows = list(ROWS) if args.rows == "all" else [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown or not rows:
        raise SystemExit(f"error: --rows {args.rows}: unknown row(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(ROWS)}")
    originals = {}
    for release in ("v1_0", "v1_3"):
        checkout = getattr(args, f"original_{release}") or os.environ.get(ENV[f"original_{release}"], "")
        python = (getattr(args, f"torch_python_{release}") or os.environ.get(ENV[f"torch_python_{release}"], "")
                  or os.environ.get("TORCH_PYTHON", ""))
        if checkout and not os.path.isdir(checkout):
            raise SystemExit(f"error: --original_{release} {checkout}: not a folder (a checkout of Open-Sora-Plan)")
        if python and not os.path.isfile(python):
            raise SystemExit(f"error: --torch_python_{release} {python}: no such interpreter")
        originals[release] = (python, checkout) if checkout and python else None
    return rows, originals


def commands(row, args, originals):
    """(our command, the original's command or None, the original's environment)."""
    _, ours, theirs, release = ROWS[row]
    timing = ["--repeats", str(args.repeats), "--warmup", str(args.warmup)]
    our_cmd = [sys.executable, *ours, *timing]
    if originals[release] is None:
        return our_cmd, None, None
    python, checkout = originals[release]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (checkout, os.environ.get("PYTHONPATH")) if p)}
    return our_cmd, [python, *theirs, *timing], env


def measure(cmd, env, timeout):
    """Runs one benchmark process; -> its JSON result (median_s, peak_rss_gb, ...) or {"error": ...}."""
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in reversed(proc.stdout.strip().splitlines()):
        try:
            result = json.loads(line)
        except ValueError:
            continue
        if isinstance(result, dict) and "median_s" in result:
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"error": f"exit {proc.returncode}: {tail[0][:200]}"}


def ratio(ours, theirs, key):
    if "error" in ours or theirs is None or "error" in theirs or not theirs.get(key):
        return None
    return ours[key] / theirs[key]


def table(results):
    """Markdown: one line per row, time and memory of both sides and their ratios."""
    def side(r):
        if r is None:
            return "not configured"
        return r["error"] if "error" in r else f"{r['median_s']:.1f} s, {r['peak_rss_gb']:.2f} GB"

    def times(x):
        return "" if x is None else f"{x:.2f}x"

    lines = ["| row | what | this repo | original | time ratio (target <= 0.8) | memory ratio (target <= 1.0) |",
             "|---|---|---|---|---|---|"]
    for row, ours, theirs in results:
        lines.append(f"| {row} | {ROWS[row][0]} | {side(ours)} | {side(theirs)} | "
                     f"{times(ratio(ours, theirs, 'median_s'))} | {times(ratio(ours, theirs, 'peak_rss_gb'))} |")
    return "\n".join(lines)


def main(argv=None):
    args = build_parser().parse_args(argv)
    rows, originals = resolve(args)
    results = []
    for row in rows:
        our_cmd, their_cmd, their_env = commands(row, args, originals)
        if args.dry_run:
            print(f"{row}: {' '.join(our_cmd)}")
            print(f"{row} (original): {' '.join(their_cmd) if their_cmd else 'not configured'}")
            continue
        print(f"[{row}] this repo ...", file=sys.stderr, flush=True)
        ours = measure(our_cmd, None, args.timeout)
        theirs = None
        if their_cmd:
            print(f"[{row}] original ...", file=sys.stderr, flush=True)
            theirs = measure(their_cmd, their_env, args.timeout)
        results.append((row, ours, theirs))
    if args.dry_run:
        return 0
    print(table(results))
    if args.output_json:
        with open(args.output_json, "w") as f:
            json.dump([{"row": r, "what": ROWS[r][0], "ours": o, "original": t} for r, o, t in results], f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
