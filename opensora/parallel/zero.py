"""Optimizer-state sharding (ZeRO stage 1, the other MindSpore port's --zero_stage 1): each rank keeps the AdamW
moments of its own share of the parameters, updates those, and every rank then receives every update.

Gradients are still averaged over all ranks first (the data-parallel reducer), so each owner computes exactly
the update the unsharded AdamW would: the weights stay identical to an unsharded run's. The moments -- two fp32
copies of the model, the largest part of the optimizer's memory -- shrink to about 1/N per rank.

Checkpoints hold the whole state under the unsharded AdamW's names (the shards gathered at save time), so a run
resumes on any number of ranks, sharded or not. The exchange is one AllGather of a packed buffer per step (the
CPU's mccl has AllGather and AllReduce, no ReduceScatter or groups; the same code runs on Ascend).
"""

import mindspore as ms
import numpy as np
from mindspore import Tensor, ops

from ..train.optim import AdamW


def assign_owners(sizes, world_size):
    """Parameter index -> owning rank: largest first, each to the least-loaded rank (ties: the lower rank), so
    shares are even and every rank computes the same assignment."""
    load = [0] * world_size
    owners = [0] * len(sizes)
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        rank = min(range(world_size), key=lambda r: (load[r], r))
        owners[i] = rank
        load[rank] += sizes[i]
    return owners


class ShardedAdamW(AdamW):
    """AdamW (opensora.train.optim) with its moments sharded over `world_size` ranks; this is rank `rank`.

    Only the owned parameters get moments; `state()` gathers all of them (every rank must call it together);
    AdamW's `load_state`, reading its moments by name, takes the owned ones of a whole (sharded or unsharded) state."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, l2_weight_decay=0.0,
                 world_size=1, rank=0):
        params = list(params)
        sizes = [int(np.prod(p.shape)) for p in params]
        owners = assign_owners(sizes, world_size)
        owned = [i for i, o in enumerate(owners) if o == rank]
        super().__init__([params[i] for i in owned], lr, betas, eps, weight_decay, l2_weight_decay)  # moments: owned
        self.world_size, self.rank, self.owners, self.owned = world_size, rank, owners, owned
        self.all_parameters, self.sizes = params, sizes
        self.offsets = {}  # parameter index -> (owner, offset in the owner's packed buffer)
        filled = [0] * world_size
        for i, (owner, size) in enumerate(zip(self.owners, sizes)):
            self.offsets[i] = (owner, filled[owner])
            filled[owner] += size
        self.buffer_size = max(max(filled), 1)  # every rank's packed buffer has this length (padded)
        self._all_gather = ops.AllGather()

    def construct(self, grads):
        """`grads`: one per parameter (all of them, already averaged over ranks): update the owned, then share."""
        grads = list(grads)
        super().construct([grads[i] for i in self.owned])
        self._share([self.all_parameters[i] for i in self.owned], self._apply_parameter)
        return True

    # ------------------------------------------------------------------ the exchange
    def _pack(self, tensors):
        flat = [t.astype(ms.float32).reshape(-1) for t in tensors]
        filled = sum(int(np.prod(t.shape)) for t in tensors)
        if filled < self.buffer_size:
            flat.append(ops.zeros((self.buffer_size - filled,), ms.float32))
        return ops.cat(flat)

    def _share(self, owned_tensors, apply):
        """AllGather every rank's packed `owned_tensors`, then apply(index, value) for every parameter index."""
        gathered = self._all_gather(self._pack(owned_tensors)).asnumpy()
        for i, p in enumerate(self.all_parameters):
            owner, offset = self.offsets[i]
            start = owner * self.buffer_size + offset
            apply(i, gathered[start:start + self.sizes[i]].reshape(p.shape))

    def _apply_parameter(self, i, value):
        if self.owners[i] != self.rank:  # the owner's own copy is already the updated one
            p = self.all_parameters[i]
            # in place: a compiled train step keeps reading the parameter's memory (set_data would swap it out)
            ops.assign(p, Tensor(value.astype(ms.dtype_to_nptype(p.dtype))))

    # ------------------------------------------------------------------ checkpoints
    def state(self):
        """The whole state under AdamW's names (collective: every rank calls it at the same step)."""
        state = {"adamw_step": Tensor(self.step_count, ms.int64)}
        for moments, prefix in ((self.exp_avg, "adamw_m."), (self.exp_avg_sq, "adamw_v.")):
            def keep(i, value, prefix=prefix):
                state[prefix + self.all_parameters[i].name] = Tensor(value.astype(np.float32))

            self._share(list(moments), keep)
        return state


