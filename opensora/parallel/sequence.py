"""Sequence parallel for the OpenSoraT2V v1.3 transformer, as the original's --sp_size (Ulysses-style: each rank of
a sequence-parallel group holds T/sp latent frames of every sample; self-attention swaps that for all frames of
H/sp heads and back, opensora/acceleration/communications.py's all_to_all_SBH).

`SequenceParallel` is the layout (sizes, ranks, the group); the cells here are the exchanges, each with its exact
adjoint as backward. Which exchange runs is the backend's answer (opensora/backend.py `all_to_all`): ops.AlltoAll
where it exists, else AllGather and keep one's own part (the CPU's mccl: same result, sp times the traffic).
"""

import dataclasses

from mindspore import nn, ops

from ..utils.errors import UserError


@dataclasses.dataclass(frozen=True)
class SequenceParallel:
    """Ranks r = dp_rank * size + sp_rank: each consecutive `size` ranks share samples and split their frames.

    group: the communication group of this rank's sequence-parallel ranks; exchange: "alltoall" | "all_gather"."""

    size: int
    rank: int  # within the group
    dp_rank: int
    dp_size: int
    group: str
    exchange: str


def check_sp_size(sp_size, world_size, flag="--sp_size", subgroups=True):
    """The one-line errors of a layout that cannot work, before any model is built."""
    if sp_size < 1:
        raise UserError(f"{flag} {sp_size}: must be >= 1 (1: no sequence parallel)")
    if world_size % sp_size:
        raise UserError(f"{flag} {sp_size}: must divide the number of ranks ({world_size}; msrun --worker_num)")
    if not subgroups and 1 < sp_size < world_size:
        raise UserError(f"{flag} {sp_size}: this backend's communication has no groups but the world (CPU mccl); "
                        f"use {flag} {world_size} (every rank) or run on Ascend/GPU")


def check_model_split(sp_size, num_frames, latent_frames, heads, flag="--sp_size"):
    """The clip's latent frames and the model's attention heads must split evenly over the group."""
    if latent_frames % sp_size:
        raise UserError(f"{flag} {sp_size}: --num_frames {num_frames} gives {latent_frames} latent frames, which do "
                        f"not split over {sp_size} ranks; choose --num_frames 4n+1 with n+1 a multiple of {sp_size}")
    if heads % sp_size:
        raise UserError(f"{flag} {sp_size}: the model's {heads} attention heads do not split over {sp_size} ranks; "
                        f"choose a size dividing {heads}")


def sequence_parallel(sp_size, rank, world_size, kernels=None):
    """The layout of this rank (None when sp_size is 1); creates the communication group where needed (every rank
    calls this, after mindspore.communication.init)."""
    from ..backend import kernel_choices

    kernels = kernels or kernel_choices()
    check_sp_size(sp_size, world_size, subgroups=kernels.comm_subgroups)
    if sp_size == 1:
        return None
    from mindspore.communication import GlobalComm, create_group

    dp_rank = rank // sp_size
    group = GlobalComm.WORLD_COMM_GROUP
    if sp_size < world_size:
        group = f"sequence_parallel_{dp_rank}"
        create_group(group, list(range(dp_rank * sp_size, (dp_rank + 1) * sp_size)))
    return SequenceParallel(sp_size, rank % sp_size, dp_rank, world_size // sp_size, group, kernels.all_to_all)


class AllToAll(nn.Cell):
    """Tokens (B, S/sp, C) of this rank <-> channels: (B, S, C/sp), as the original's all_to_all_SBH: the channel
    axis is split into sp parts, part j goes to rank j, and what arrives is concatenated along the sequence in
    rank order (`to_heads`); the reverse exchange otherwise. Channels are (heads, head_dim), so C/sp is whole
    heads. Backward: the other direction (the exact adjoint), so gradients reach the rank whose tokens they are.
    """

    def __init__(self, sp, to_heads=True):
        super().__init__()
        self.size, self.rank, self.to_heads = sp.size, sp.rank, to_heads
        self.use_alltoall = sp.exchange == "alltoall"
        if self.use_alltoall:
            self.to_heads_op = ops.AlltoAll(sp.size, 2, 1, group=sp.group)  # split channels, concat sequence
            self.to_tokens_op = ops.AlltoAll(sp.size, 1, 2, group=sp.group)
        else:
            self.all_gather = ops.AllGather(group=sp.group)

    def construct(self, x):
        return self._exchange(x, self.to_heads)

    def bprop(self, x, out, dout):
        return (self._exchange(dout, not self.to_heads),)

    def _exchange(self, x, to_heads):
        if self.use_alltoall:
            return self.to_heads_op(x) if to_heads else self.to_tokens_op(x)
        # AllGather, keep one's own part (written without loops or comprehensions: a compiled bprop takes neither)
        b, s, c = x.shape
        parts = self.all_gather(x).reshape(self.size, b, s, c)  # every rank's x, source rank first
        if to_heads:
            piece = c // self.size
            mine = ops.slice(parts, (0, 0, 0, self.rank * piece), (self.size, b, s, piece))
            return mine.transpose(1, 0, 2, 3).reshape(b, self.size * s, piece)  # sources along the sequence
        piece = s // self.size
        mine = ops.slice(parts, (0, 0, self.rank * piece, 0), (self.size, b, piece, c))
        return mine.transpose(1, 2, 0, 3).reshape(b, piece, self.size * c)  # sources along the channels


class GatherFrames(nn.Cell):
    """(B, C, T/sp, H, W) per rank -> (B, C, T, H, W) on every rank (the sampler steps on whole latents, as one
    device would). Backward: each rank keeps the gradient of its own frames."""

    def __init__(self, sp):
        super().__init__()
        self.size, self.rank = sp.size, sp.rank
        self.all_gather = ops.AllGather(group=sp.group)

    def construct(self, x):
        b, c, t, h, w = x.shape
        parts = self.all_gather(x).reshape(self.size, b, c, t, h, w)
        return parts.transpose(1, 2, 0, 3, 4, 5).reshape(b, c, self.size * t, h, w)

    def bprop(self, x, out, dout):
        b, c, t, h, w = x.shape
        return (ops.slice(dout, (0, 0, self.rank * t, 0, 0), (b, c, t, h, w)),)
