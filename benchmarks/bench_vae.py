"""Full-size causal VAE 488 or v1.3 WF-VAE D8 (random weights) encode and decode timing and peak RSS, fp32.

    python benchmarks/bench_vae.py --frames 17 --size 256 --repeats 1 [--tiling] [--stage encode|decode|both]
    python benchmarks/bench_vae.py --family wfvae --frames 17 --size 256 --repeats 2 --warmup 1

Each stage runs in its own subprocess so its peak RSS is its own. Opt-in: not part of the tests.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

CONFIGS = {"causal_vae": "configs/ae/causal_vae_488.yaml", "wfvae": "configs/ae/wfvae_d8_4x8x8.json"}


def stage_call(vae, stage, frames, size, latent_channels=4):
    """A no-argument call running one encode ("encode") or decode of a random 1x3xframesxsizexsize clip (seed 0)."""
    import mindspore as ms
    import numpy as np

    rng = np.random.default_rng(0)
    if stage == "encode":
        clip = ms.Tensor(rng.uniform(-1, 1, (1, 3, frames, size, size)).astype(np.float32))
        return lambda: vae.encode_moments(clip)
    t_lat = (frames - 1) // 4 + 1
    latent = ms.Tensor(rng.standard_normal((1, latent_channels, t_lat, size // 8, size // 8)).astype(np.float32))
    return lambda: vae.decode(latent)


def run_stage(args):
    import mindspore as ms

    from opensora.models.ae import families
    from opensora.models.ae.families import detect_family
    from opensora.utils.ms_utils import init_context, peak_rss_gb

    init_context(mode=args.mode)  # as the scripts: CPU, blocking launches unless OPENSORA_SYNC=0
    config = CONFIGS[args.family]
    vae = families()[detect_family(config)].from_config_file(config)
    vae.set_train(False)
    if args.tiling:
        vae.enable_tiling()
    fn = stage_call(vae, args.stage, args.frames, args.size, vae.latent_shape((3, 1, 8, 8))[0])
    times = []
    for _ in range(args.warmup + args.repeats):
        start = time.time()
        fn().asnumpy()
        times.append(time.time() - start)
    times = times[args.warmup:]
    print(json.dumps({"family": args.family, "stage": args.stage, "tiling": args.tiling,
                      "shape": f"1x3x{args.frames}x{args.size}x{args.size}",
                      "median_s": round(statistics.median(times), 2), "runs_s": [round(t, 2) for t in times],
                      "peak_rss_gb": round(peak_rss_gb(), 2), "mindspore": ms.__version__, "mode": args.mode}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", default="causal_vae", choices=sorted(CONFIGS))
    p.add_argument("--frames", type=int, default=17)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--warmup", type=int, default=0, help="untimed runs first (the first call compiles kernels)")
    p.add_argument("--tiling", action="store_true")
    p.add_argument("--mode", type=int, default=1, help="0 graph, 1 PyNative")
    p.add_argument("--stage", default="both", choices=["encode", "decode", "both"])
    p.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._child:
        return run_stage(args)
    print("command:", " ".join(["python"] + sys.argv))
    for stage in (["encode", "decode"] if args.stage == "both" else [args.stage]):
        cmd = [sys.executable, __file__, "--_child", "--family", args.family, "--stage", stage, "--frames",
               str(args.frames), "--size", str(args.size), "--repeats", str(args.repeats), "--warmup",
               str(args.warmup), "--mode", str(args.mode)]
        cmd += ["--tiling"] if args.tiling else []
        out = subprocess.run(cmd, capture_output=True, text=True)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        print(lines[-1] if lines else out.stderr[-2000:])


if __name__ == "__main__":
    main()
