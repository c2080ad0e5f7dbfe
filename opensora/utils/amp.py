"""Precision policy, set once per model: parameters in the compute dtype except the model's fp32 keep-list.

A model declares its keep-list as the class attribute `FP32_CELLS` (cell types, e.g. its GroupNorm). Kept cells
hold fp32 parameters and compute in fp32; they cast their input up and their output back, so the rest of the
network stays in the compute dtype.
"""

import mindspore as ms


def apply_precision(net, dtype, keep_fp32=None):
    """Cast the parameters of every cell of `net` to `dtype`, except cells whose type is in `keep_fp32`
    (default: `net.FP32_CELLS`, empty if the model declares none)."""
    if dtype == ms.float32:
        return net
    keep_fp32 = tuple(keep_fp32) if keep_fp32 is not None else tuple(getattr(net, "FP32_CELLS", ()))
    kept = set()
    for _, cell in net.cells_and_names():
        if isinstance(cell, keep_fp32):
            kept.update(id(p) for p in cell.get_parameters())
    for _, param in net.parameters_and_names():
        if id(param) not in kept and param.dtype != dtype:
            param.set_dtype(dtype)
    return net
