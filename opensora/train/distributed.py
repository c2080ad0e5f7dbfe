"""Start-up shared by the training scripts: context, data parallel (msrun workers; hccl on Ascend, mccl on CPU),
dtype and schedule checks."""

import os
import sys

import mindspore as ms

from ..utils.errors import UserError


def init_distributed(use_parallel):
    """(rank, world size); with --use_parallel, MindSpore's communication (hccl on Ascend, mccl on CPU) and
    DATA_PARALLEL with gradient mean. Launch with msrun (see README)."""
    if not use_parallel:
        return 0, 1
    rank, world = init_communication()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True, device_num=world)
    return rank, world


def init_communication():
    """MindSpore's communication among msrun's workers -> (rank, world size); failures in one line."""
    from mindspore.communication import get_group_size, get_rank, init

    try:
        init()
    except RuntimeError as err:
        if os.environ.get("MS_ROLE") == "MS_SCHED":
            # msrun's scheduler sees workers vanish, not why: no error line of its own to compete with the failing
            # rank's (scripts/launch.sh names that rank and its error last)
            print("msrun scheduler: the job ended with workers missing; the first failing rank's own error is in its "
                  "worker_<rank>.log under msrun's --log_dir", file=sys.stderr, flush=True)
            raise SystemExit(1) from err
        raise UserError(f"--use_parallel: cannot initialise communication ({str(err).splitlines()[0][:160]}); "
                        "either another worker failed first (its own error is in its log under msrun's --log_dir) "
                        "or another msrun job holds this --master_port (start with msrun --worker_num=N "
                        "--local_worker_num=N --master_port=<a free port>)") from err
    rank, world = get_rank(), get_group_size()
    # names this worker's pid in its log, so that a rank killed without a word is still named (msrun_report.py)
    print(f"[msrun] rank {rank} of {world}: pid {os.getpid()}", file=sys.stderr, flush=True)
    return rank, world


def start_training(args):
    """MindSpore context, seed, ranks and compute dtype of a training run -> (rank, world size, dtype)."""
    from ..utils.ms_utils import init_context, resolve_dtype

    init_context(args.mode, args.device_target, args.seed, args.debug)
    rank, world = init_distributed(args.use_parallel)
    dtype = resolve_dtype(args.dtype, args.device_target)
    if args.scheduler not in ("constant", "cosine_decay"):
        raise UserError(f"--scheduler {args.scheduler}: use constant or cosine_decay")
    return rank, world, dtype
