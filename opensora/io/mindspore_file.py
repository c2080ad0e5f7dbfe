"""MindSpore `.ckpt` files: read to ndarrays, and written atomically (temp file + rename) so that an interrupted
save never leaves a half-written checkpoint under the final name."""

import os

import numpy as np

from ..utils.errors import UserError


def read_mindspore_ckpt(path):
    import mindspore as ms

    try:
        params = ms.load_checkpoint(path)
    except Exception as err:  # MindSpore raises RuntimeError/ValueError/TypeError for damaged files
        raise UserError(f"{path}: cannot read MindSpore checkpoint ({str(err).splitlines()[0][:160]})") from err
    return {k: v.asnumpy() for k, v in params.items()}


def save_state(state, path):
    """Write name -> ndarray as a MindSpore .ckpt (dtypes as given), atomically."""
    import mindspore as ms

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.partial.ckpt"
    ms.save_checkpoint([{"name": k, "data": ms.Tensor(np.ascontiguousarray(v))} for k, v in state.items()], tmp)
    os.replace(tmp, path)
    return path
