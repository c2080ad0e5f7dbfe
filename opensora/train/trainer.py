"""One training step with the original's options: loss scaling (static or dynamic, overflowed steps skipped),
gradient accumulation, global-norm clipping, AdamW with per-step LR, and EMA."""

import mindspore as ms
import numpy as np
from mindspore import Parameter, nn, ops

from ..utils.errors import UserError


class GraphGradStep(nn.Cell):
    """`Trainer`'s gradient function, compiled: (scale, *inputs) -> ((loss * scale, loss, *aux), grads).

    `loss_cell(*inputs)` returns a loss or a tuple (loss, *tensors to report); `label` and `compile_time` name
    the graph in the line the Trainer logs before the first call, which compiles it (a pause with no output)."""

    def __init__(self, loss_cell, params, label="train step", compile_time=""):
        super().__init__(auto_prefix=False)  # parameter names stay the model's own
        self.loss_cell = loss_cell
        when = f"first step; {compile_time}" if compile_time else "first step"
        self.compile_note = f"compiling the {label} graph ({when})"
        self.grad_fn = ms.value_and_grad(self.scaled, None, ms.ParameterTuple(params), has_aux=True)

    def scaled(self, scale, *inputs):
        out = self.loss_cell(*inputs)
        if isinstance(out, tuple):
            return (out[0] * scale, out[0]) + out[1:]
        return out * scale, out

    @ms.jit
    def construct(self, scale, *inputs):
        return self.grad_fn(scale, *inputs)


class LossScaler:
    """Dynamic: halve on overflow (the step is skipped), double after `window` good steps. Static: factor 1."""

    def __init__(self, init_scale=1.0, dynamic=False, factor=2.0, window=2000):
        self.scale, self.dynamic, self.factor, self.window = float(init_scale), dynamic, factor, window
        self.good_steps = 0

    def update(self, overflow):
        if not self.dynamic:
            return
        if overflow:
            self.scale = max(self.scale / self.factor, 1.0)
            self.good_steps = 0
        else:
            self.good_steps += 1
            if self.good_steps >= self.window:
                self.scale *= self.factor
                self.good_steps = 0


class EMA:
    """Exponential moving average of the trainable weights (decay 0.9999 in the original)."""

    def __init__(self, params, decay=0.9999):
        self.decay = decay
        self.shadow = [Parameter(p.copy(), name=f"ema.{p.name}", requires_grad=False) for p in params]
        self.params = params

    def update(self):
        for s, p in zip(self.shadow, self.params):
            s.set_data(s * self.decay + p * (1 - self.decay))


class Trainer:
    """Args:
        loss_fn: callable(*inputs) -> scalar loss Tensor (the network with its loss).
        params: the trainable Parameters; optimizer: `AdamW` over them.
    """

    def __init__(self, loss_fn, params, optimizer, scaler=None, clip_grad=False, max_grad_norm=1.0,
                 accumulation_steps=1, ema=None, grad_reducer=None, grad_fn=None):
        self.params, self.optimizer = list(params), optimizer
        self.scaler = scaler or LossScaler()
        self.clip_grad, self.max_grad_norm = clip_grad, max_grad_norm
        self.accumulation_steps, self.ema = accumulation_steps, ema
        self.grad_reducer = grad_reducer  # data-parallel gradient mean, when distributed
        self._accum, self._micro = None, 0
        self.set_loss(loss_fn, grad_fn)

    def set_loss(self, loss_fn, grad_fn=None):
        """Switch the objective (e.g. when the adversarial term starts). `grad_fn`: a compiled
        (scale, *inputs) -> ((loss * scale, loss, *aux), grads); default: PyNative value_and_grad of loss_fn."""
        self.loss_fn = loss_fn
        if grad_fn is None:
            def scaled_loss(scale, *inputs):
                out = loss_fn(*inputs)  # a loss, or (loss, *tensors to report)
                loss, aux = (out[0], tuple(out[1:])) if isinstance(out, tuple) else (out, ())
                return (loss * scale, loss) + aux

            grad_fn = ms.value_and_grad(scaled_loss, None, self.params, has_aux=True)
        self._grad_fn = grad_fn
        self._compile_note = getattr(grad_fn, "compile_note", None)  # logged once, before the compiling call

    def step(self, lr, *inputs):
        """One micro-batch; the optimizer steps every `accumulation_steps` calls. Returns a log dict."""
        scale = ms.Tensor(self.scaler.scale, ms.float32)
        if self._compile_note:
            from ..utils.logger import get_logger

            get_logger().info(self._compile_note)
            self._compile_note = None
        (_, loss, *aux), grads = self._grad_fn(scale, *inputs)
        grads = [g / scale for g in grads]
        if self.grad_reducer is not None:
            grads = list(self.grad_reducer(tuple(grads)))
        self._accum = grads if self._accum is None else [a + g for a, g in zip(self._accum, grads)]
        self._micro += 1
        info = {"loss": float(loss.asnumpy()), "lr": lr, "loss_scale": self.scaler.scale, "updated": False,
                "aux": aux}
        if self._micro < self.accumulation_steps:
            return info
        grads = [g / self.accumulation_steps for g in self._accum]
        self._accum, self._micro = None, 0
        # one reduction gives both checks: the squared norm is inf/nan iff some gradient element is
        sq_norm = float(ops.addn([ops.square(g.astype(ms.float32)).sum() for g in grads]).asnumpy())
        overflow = not np.isfinite(sq_norm)
        info["overflow"] = overflow
        self.scaler.update(overflow)
        if overflow:  # skip the update; the scaler lowered the scale
            return info
        norm = float(np.sqrt(sq_norm))
        info["grad_norm"] = norm
        if self.clip_grad and norm > self.max_grad_norm:
            factor = self.max_grad_norm / (norm + 1e-6)
            grads = [g * factor for g in grads]
        self.optimizer.lr = lr
        self.optimizer(grads)
        if self.ema is not None:
            self.ema.update()
        info["updated"] = True
        return info


def trainer_from_args(args, params, loss_fn, lr, world_size=1, dynamic_scale=False, ema=True, grad_fn=None,
                      zero_stage=0, rank=0):
    """A Trainer from the flags both training scripts share: --optim adam|adamw (torch's Adam couples its weight
    decay into the gradient, AdamW decouples it), --betas, --optim_eps, --weight_decay, the loss-scale flags
    (dynamic only when `dynamic_scale`, i.e. fp16), --clip_grad/--max_grad_norm, --gradient_accumulation_steps,
    --use_ema/--ema_decay (when `ema`), and the data-parallel gradient mean over `world_size` ranks.
    `zero_stage` 1: the optimizer's moments sharded over the ranks (opensora.parallel.zero; this is `rank`)."""
    from .optim import AdamW

    adamw = args.optim == "adamw"
    hyper = dict(lr=lr, betas=tuple(args.betas), eps=args.optim_eps, weight_decay=args.weight_decay if adamw else 0.0,
                 l2_weight_decay=0.0 if adamw else args.weight_decay)
    if zero_stage and world_size > 1:
        from ..parallel.zero import ShardedAdamW

        optimizer = ShardedAdamW(params, world_size=world_size, rank=rank, **hyper)
    else:
        optimizer = AdamW(params, **hyper)
    scaler = LossScaler(args.init_loss_scale if dynamic_scale else 1.0, dynamic=dynamic_scale,
                        factor=args.loss_scale_factor, window=args.scale_window)
    reducer = None
    if world_size > 1:
        reducer = nn.DistributedGradReducer(params, mean=True, degree=world_size)
    return Trainer(loss_fn, params, optimizer, scaler, args.clip_grad, args.max_grad_norm,
                   args.gradient_accumulation_steps, EMA(params, args.ema_decay) if ema and args.use_ema else None,
                   grad_reducer=reducer, grad_fn=grad_fn)


def trainer_state(trainer, prefix=""):
    """(tensors, meta) of a trainer for a checkpoint: optimizer moments and step, EMA, loss scale."""
    tensors = {prefix + k: v.asnumpy() for k, v in trainer.optimizer.state().items()}
    if trainer.ema is not None:
        tensors.update({prefix + p.name: p.asnumpy() for p in trainer.ema.shadow})
    return tensors, {"loss_scale": trainer.scaler.scale, "good_steps": trainer.scaler.good_steps}


def restore_trainer(trainer, tensors, meta=None, prefix=""):
    """Inverse of `trainer_state` (meta None: the loss scale is left as built)."""
    own = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    try:
        trainer.optimizer.load_state(own)
    except KeyError as err:
        raise UserError(f"--resume: the checkpoint has no optimizer state for {err.args[0]}: it was saved with "
                        "other trainable weights; resume with the flags it was trained with (e.g. "
                        "--freeze_encoder)") from err
    if trainer.ema is not None:
        for p in trainer.ema.shadow:
            p.set_data(ms.Tensor(own[p.name]))
    if meta is not None:
        trainer.scaler.scale, trainer.scaler.good_steps = meta["loss_scale"], meta["good_steps"]
