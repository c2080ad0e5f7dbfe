"""Run by tests/scripts/test_scale_out.py under msrun (2 CPU workers, mccl): each rank checks the sequence-parallel
transformer and the sharded optimizer against the one-device computation it also runs, and writes its numbers to
<out>/rank<N>.json for the test to assert on.

    msrun --worker_num=2 --local_worker_num=2 --join=True tests/workers/scale_out_checks.py <out> <jit 0|1>

jit 1 compiles the gradient functions (what train_diffusion.py's --jit does: a graph inside PyNative).
"""

import json
import os
import sys

import mindspore as ms
import numpy as np
from mindspore import ops

from opensora.models.diffusion.opensora_v1_3 import OpenSoraInpaint_v1_3, OpenSoraT2V_v1_3
from opensora.parallel.sequence import AllToAll, sequence_parallel
from opensora.parallel.zero import ShardedAdamW
from opensora.train.distributed import init_communication
from opensora.train.optim import AdamW

TINY = dict(num_layers=4, attention_head_dim=12, num_attention_heads=2, patch_size_t=1, patch_size=2, in_channels=4,
            out_channels=4, caption_channels=16, cross_attention_dim=24, activation_fn="gelu-approximate",
            sparse1d=True, sparse_n=4)


def twin_models(cls, config):
    """(one-device model, the same weights again) to make sequence parallel."""
    ms.set_seed(0)
    plain = cls(config)
    ms.set_seed(0)
    twin = cls(config)
    rng = np.random.default_rng(1)  # nonzero everywhere (the inpaint projections start at zero)
    for p, q in zip(plain.get_parameters(), twin.get_parameters()):
        value = ms.Tensor((rng.standard_normal(p.shape) * 0.2).astype(np.float32))
        p.set_data(value)
        q.set_data(value.copy())
    return plain, twin


def inputs(channels, frames=4, seed=0):
    rng = np.random.default_rng(seed)
    x = ms.Tensor(rng.standard_normal((2, channels, frames, 6, 8)).astype(np.float32))
    t = ms.Tensor(np.array([10, 700], np.int64))
    text = ms.Tensor(rng.standard_normal((2, 1, 5, 16)).astype(np.float32))
    text_mask = np.ones((2, 1, 5), np.int64)
    text_mask[0, 0, 3:] = 0
    return x, t, text, ms.Tensor(text_mask)


def exchange_roundtrip(sp, rank):
    """AllToAll: (B, S/sp, C) -> (B, S, C/sp) equals slicing the whole, and back."""
    whole = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    mine = ms.Tensor(whole[:, rank * 2:(rank + 1) * 2])
    heads = AllToAll(sp, to_heads=True)(mine).asnumpy()
    back = AllToAll(sp, to_heads=False)(ms.Tensor(heads)).asnumpy()
    return bool(np.array_equal(heads, whole[:, :, rank * 3:(rank + 1) * 3]) and np.array_equal(back, mine.asnumpy()))


def forward_and_gradients(cls, sp, rank, world, graph):
    config = dict(TINY)
    plain, split = twin_models(cls, config)
    channels = 12 if cls is OpenSoraInpaint_v1_3 else 4
    x, t, text, text_mask = inputs(channels)
    reference = plain(x, t, text, encoder_attention_mask=text_mask).asnumpy()
    gathered = twin_models(cls, config)[1]
    gathered.enable_sequence_parallel(sp, gather_output=True)
    whole = gathered(x, t, text, encoder_attention_mask=text_mask).asnumpy()
    split.enable_sequence_parallel(sp)  # the training form: this rank's frames out
    if graph:  # as the release recipe trains (--use_recompute): the exchanges' backward inside recomputed blocks
        split.enable_gradient_checkpointing()
    weight = np.random.default_rng(2).standard_normal(reference.shape).astype(np.float32)
    frames = reference.shape[2] // world
    local_weight = ms.Tensor(weight[:, :, rank * frames:(rank + 1) * frames])

    def loss_plain(x):
        return (plain(x, t, text, encoder_attention_mask=text_mask) * ms.Tensor(weight)).sum()

    def loss_split(x):  # summed over ranks it is loss_plain
        return (split(x, t, text, encoder_attention_mask=text_mask) * local_weight).sum()

    grad_plain = ms.grad(loss_plain, None, plain.trainable_params())
    grad_split = ms.grad(loss_split, None, split.trainable_params())
    if graph:
        grad_plain, grad_split = ms.jit(grad_plain), ms.jit(grad_split)
    expected = [g.asnumpy() for g in grad_plain(x)]
    summed = [ops.AllReduce()(g).asnumpy() for g in grad_split(x)]
    scale = max(float(np.abs(g).max()) for g in expected)
    return {"forward_max_diff": float(np.abs(whole - reference).max()),
            "forward_scale": float(np.abs(reference).max()),
            "local_frames_diff": float(np.abs(split(x, t, text, encoder_attention_mask=text_mask).asnumpy()
                                              - reference[:, :, rank * frames:(rank + 1) * frames]).max()),
            "grad_max_diff": max(float(np.abs(a - b).max()) for a, b in zip(expected, summed)),
            "grad_scale": scale}


def sharded_optimizer(rank, world):
    """Three AdamW steps with the same gradients: sharded over the ranks vs whole on each rank."""
    rng = np.random.default_rng(3)
    shapes = [(7, 5), (3,), (11, 2), (4, 4, 2), (1,)]
    values = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    make = lambda tag: [ms.Parameter(ms.Tensor(v.copy()), name=f"{tag}.w{i}") for i, v in enumerate(values)]  # noqa
    whole_params, shard_params = make("p"), make("p")
    whole = AdamW(whole_params, lr=1e-2, weight_decay=0.1)
    sharded = ShardedAdamW(shard_params, lr=1e-2, weight_decay=0.1, world_size=world, rank=rank)
    for step in range(3):
        grads = [ms.Tensor(np.random.default_rng(10 + step).standard_normal(s).astype(np.float32)) for s in shapes]
        whole(grads)
        sharded(grads)
    weights_diff = max(float(np.abs(a.asnumpy() - b.asnumpy()).max()) for a, b in zip(whole_params, shard_params))
    whole_state = {k: v.asnumpy() for k, v in whole.state().items()}
    shard_state = {k: v.asnumpy() for k, v in sharded.state().items()}
    state_equal = whole_state.keys() == shard_state.keys() and all(
        np.array_equal(whole_state[k], shard_state[k]) for k in whole_state)
    restored = ShardedAdamW(make("p"), lr=1e-2, weight_decay=0.1, world_size=world, rank=rank)
    restored.load_state(whole_state)  # a whole (unsharded) state resumes sharded
    restored_state = {k: v.asnumpy() for k, v in restored.state().items()}
    return {"weights_max_diff": weights_diff, "state_equal": bool(state_equal),
            "restored_equal": all(np.array_equal(whole_state[k], restored_state[k]) for k in whole_state),
            "owned": len(sharded.owned), "moments_on_this_rank": len(sharded.exp_avg)}


def main(out, jit):
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    rank, world = init_communication()
    sp = sequence_parallel(world, rank, world)
    report = {"exchange_roundtrip": exchange_roundtrip(sp, rank)}
    for cls in (OpenSoraT2V_v1_3, OpenSoraInpaint_v1_3):
        report[cls.__name__] = forward_and_gradients(cls, sp, rank, world, graph=jit)
    report["zero"] = sharded_optimizer(rank, world)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], bool(int(sys.argv[2])))
