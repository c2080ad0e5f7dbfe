"""Serve text-to-video in the browser (gradio): the bundled demo model by default, nothing downloaded.

    python -m opensora.serve                       # http://127.0.0.1:7860, the demo model (make serve)
    python -m opensora.serve --config configs/diffusion/opensora_v1_3_93x352x640.yaml --port 8000
    python -m opensora.serve --host 0.0.0.0        # reachable from other machines (only when you mean it)

The model is loaded once; requests queue and run one at a time. Each result is a run folder under --output_path
(video, config.yaml, log.txt), as infer_diffusion.py writes them.
"""

import argparse
import sys

from ..utils.config import HelpFormatter, positive_int
from ..utils.errors import run_main
from .service import DEFAULT_CONFIG, DEFAULT_OUTPUT


def build_parser():
    p = argparse.ArgumentParser(prog="python -m opensora.serve", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--config", default=DEFAULT_CONFIG, help="an infer_diffusion.py config (any model it runs)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1: this machine only)")
    p.add_argument("--port", type=positive_int, default=7860, help="port to serve on")
    p.add_argument("--output_path", default=DEFAULT_OUTPUT, help="where the generated videos go")
    p.add_argument("--max_queue", type=positive_int, default=16, help="requests waiting at most; more are refused")
    p.add_argument("--debug", action="store_true", help="show stack traces")
    return p


def main(argv):
    args, extra = build_parser().parse_known_args(argv)  # anything else: infer_diffusion.py flags over --config
    import os

    from .app import build_app
    from .service import TextToVideoService

    service = TextToVideoService(args.config, args.output_path, extra)
    app = build_app(service)
    app.queue(default_concurrency_limit=1, max_size=args.max_queue)
    print(f"serving {args.config} on http://{args.host}:{args.port}", flush=True)
    app.launch(server_name=args.host, server_port=args.port, allowed_paths=[os.path.abspath(args.output_path)],
               show_error=True, quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
