"""Data-parallel start-up shared by the training scripts (msrun workers; hccl on Ascend, mccl on CPU)."""

import mindspore as ms

from ..utils.errors import UserError


def init_distributed(use_parallel):
    """(rank, world size); with --use_parallel, MindSpore's communication (hccl on Ascend, mccl on CPU) and
    DATA_PARALLEL with gradient mean. Launch with msrun (see README)."""
    if not use_parallel:
        return 0, 1
    from mindspore.communication import get_group_size, get_rank, init

    try:
        init()
    except RuntimeError as err:
        raise UserError(f"--use_parallel: cannot initialise communication ({str(err).splitlines()[0][:160]}); "
                        "is another msrun job using this --master_port? Start with msrun --worker_num=N "
                        "--local_worker_num=N --master_port=<a free port>") from err
    rank, world = get_rank(), get_group_size()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True, device_num=world)
    return rank, world
