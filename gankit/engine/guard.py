"""The divergence guard: catch NaN/Inf within one step, roll back, and warn about mode collapse.

After every generator step the guard reduces every loss statistic, weight and gradient with one fused
``torch._foreach_norm`` call and asks a single ``isfinite().all()`` of the result: the L2 norm first
(fast on CPU; finite proves every element finite), and only if that is not finite the max-abs, which
NaN and Inf propagate through and which cannot overflow, to decide and to name the offender.
A bad step never reaches the callbacks, so nothing non-finite is logged or checkpointed. The guard
then restores the last good in-memory snapshot (networks, optimizers, schedulers, hook state) and,
per ``guard.action``, lowers both learning rates or only skips the batch; the data order and the RNG
move on, so the same batch and latents are not replayed. After ``guard.max_failures`` bad steps the
run stops and ``fit`` raises ``TrainingDiverged`` once the callbacks have saved the last good state.

Mode collapse is watched through the fixed latent batch of the sample grids: the mean pairwise L2
distance of G's samples (``sample_diversity``) is tracked, and a warning event is logged when it falls
below ``guard.collapse_ratio`` of its peak.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import torch

from gankit.config import GuardConfig
from gankit.engine.callbacks import MetricsLog
from gankit.errors import Interrupted
from gankit.losses import Stats

if TYPE_CHECKING:
    from gankit.engine.trainer import Trainer


def _clone(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_clone(v) for v in obj)
    return obj


def _copy_into(old: Any, obj: Any) -> Any:
    """``_clone(obj)``, but writing into the tensors of ``old`` (the previous snapshot) where they fit, so a
    snapshot per step copies memory instead of allocating it (about 2x cheaper on CPU)."""
    if isinstance(obj, torch.Tensor):
        if isinstance(old, torch.Tensor) and old.shape == obj.shape and old.dtype == obj.dtype \
                and old.device == obj.device:
            return old.copy_(obj.detach())
        return obj.detach().clone()
    if isinstance(obj, dict):
        old = old if isinstance(old, dict) else {}
        return {k: _copy_into(old.get(k), v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        old = old if isinstance(old, (list, tuple)) and len(old) == len(obj) else [None] * len(obj)
        return type(obj)(_copy_into(o, v) for o, v in zip(old, obj))
    return obj


class DivergenceGuard:
    def __init__(self, cfg: GuardConfig, sample_every: int):
        self.cfg = cfg
        self.collapse_every = cfg.collapse_every or sample_every
        self.failures = 0
        self.peak_diversity = 0.0
        self.last_diversity = float("nan")
        self.collapsed = False
        self.stopped = False
        self.message = ""
        self._snapshot: dict[str, Any] | None = None
        self._snapshot_step = -1
        self.warn: Callable[[str], None] = lambda msg: print(f"gankit: warning: {msg}", file=sys.stderr)

    # ------------------------------------------------------------------------------------------
    # the per-step check

    @staticmethod
    def _watched(trainer: Trainer, stats: Stats) -> tuple[list[str], list[torch.Tensor]]:
        names, tensors = [], []
        for k, v in stats.items():
            if isinstance(v, torch.Tensor) and v.is_floating_point():
                names.append(k)
                tensors.append(v.detach())
        for net_name, net in trainer.networks.items():
            for p_name, p in net.named_parameters():
                names.append(f"weight {net_name}.{p_name}")
                tensors.append(p.detach())
                if p.grad is not None:
                    names.append(f"gradient of {net_name}.{p_name}")
                    tensors.append(p.grad.detach())
        return names, tensors

    def find_nonfinite(self, trainer: Trainer, stats: Stats) -> str | None:
        """None when every loss, weight and gradient is finite, else the first offender's name."""
        names, tensors = self._watched(trainer, stats)
        if not tensors:
            return None
        # Fast path: a finite L2 norm proves every element finite, and torch's fused L2 kernel is ~15x
        # faster on CPU than its max-abs one (docs/performance.md). Only when it is not finite (NaN, Inf,
        # or a sum of squares that overflowed) does the exact max-abs check below decide.
        if bool(torch.stack([n.float() for n in torch._foreach_norm(tensors, 2)]).isfinite().all()):
            return None
        # one fused reduction per (device, dtype) group and a single host sync per step
        norms = torch._foreach_norm(tensors, float("inf"))
        if bool(torch.stack([n.float() for n in norms]).isfinite().all()):
            return None
        for name, n in zip(names, norms):
            if not torch.isfinite(n):
                return name if name.startswith(("weight", "gradient")) else f"loss statistic {name}"
        return "a watched tensor"

    # ------------------------------------------------------------------------------------------
    # snapshots and rollback (in memory)

    def _parts(self, trainer: Trainer) -> dict[str, Any]:
        # the data order, RNG and callbacks are left out on purpose: after a rollback the run moves on to new data
        parts: dict[str, Any] = dict(trainer.networks)
        for name, obj in trainer.state_parts().items():
            if name.startswith("optim.") or name == "task":
                parts[name] = obj
        return parts

    def snapshot(self, trainer: Trainer) -> None:
        old = self._snapshot or {}
        self._snapshot = {name: _copy_into(old.get(name), obj.state_dict()) for name, obj in self._parts(trainer).items()}
        self._snapshot["__fixed__"] = {"step": trainer.step}
        self._snapshot_step = trainer.step

    def rollback(self, trainer: Trainer) -> None:
        assert self._snapshot is not None
        for name, obj in self._parts(trainer).items():
            if name in self._snapshot:
                obj.load_state_dict(_clone(self._snapshot[name]))
        trainer.step = self._snapshot["__fixed__"]["step"]
        for opt in trainer.task.optimizers.values():  # a stale gradient must not count as "non-finite" next time
            opt.zero_grad(set_to_none=True)

    # ------------------------------------------------------------------------------------------
    # the hook the engine calls after every step

    def before_fit(self, trainer: Trainer) -> None:
        self.snapshot(trainer)

    def after_step(self, trainer: Trainer, stats: Stats) -> bool:
        """True when the step was good; False when it was rolled back (callbacks must not see it)."""
        bad = self.find_nonfinite(trainer, stats)
        if bad is None:
            if trainer.step - self._snapshot_step >= self.cfg.snapshot_every:
                self.snapshot(trainer)
            if self.cfg.collapse_ratio > 0 and trainer.step % self.collapse_every == 0:
                self.check_collapse(trainer)
            return True

        bad_step = trainer.step
        self.failures += 1
        optimizers = list(trainer.task.optimizers.values())
        lrs = [[g["lr"] for g in opt.param_groups] for opt in optimizers]
        self.rollback(trainer)
        for opt, opt_lrs in zip(optimizers, lrs):  # lowered rates survive older snapshots
            for group, lr in zip(opt.param_groups, opt_lrs):
                group["lr"] = lr
        record: dict[str, Any] = {"event": "nonfinite", "what": bad, "bad_step": bad_step,
                                  "rolled_back_to": trainer.step, "failures": self.failures}
        if self.failures >= self.cfg.max_failures:
            self.stopped = True
            self.message = (f"training diverged: {self.failures} non-finite steps (the last at step {bad_step}: "
                            f"non-finite {bad})")
            record["action"] = "stop"
        elif self.cfg.action == "lower_lr":
            for opt in optimizers:
                for group in opt.param_groups:
                    group["lr"] = group["lr"] * self.cfg.lr_factor
            record["action"] = "lower_lr"
        else:
            record["action"] = "skip"
        record["lr"] = [g["lr"] for opt in optimizers for g in opt.param_groups]
        _log_event(trainer, record)
        if not self.stopped:
            what = ("lowered the learning rates to " + ", ".join(f"{lr:.3g}" for lr in record["lr"])
                    if record["action"] == "lower_lr" else "skipped the batch")
            self.warn(f"step {bad_step}: non-finite {bad}; rolled back to step {trainer.step} and {what} "
                      f"(failure {self.failures} of {self.cfg.max_failures})")
        return False

    # ------------------------------------------------------------------------------------------
    # mode collapse

    @torch.no_grad()
    def diversity(self, trainer: Trainer) -> float:
        """Mean pairwise L2 distance between the samples of the fixed latent batch."""
        x = trainer.preview().flatten(1).float()  # eval mode: training is unaffected
        n = len(x)
        if n < 2:
            return 0.0
        d = torch.cdist(x, x)  # (n, n)
        return float(d.sum() / (n * (n - 1)))

    def check_collapse(self, trainer: Trainer) -> None:
        div = self.diversity(trainer)
        if not torch.isfinite(torch.tensor(div)):
            return
        self.peak_diversity = max(self.peak_diversity, div)
        self.last_diversity = div
        low = div < self.cfg.collapse_ratio * self.peak_diversity
        if low and not self.collapsed:
            _log_event(trainer, {"event": "mode_collapse_warning", "sample_diversity": round(div, 6),
                                 "peak_diversity": round(self.peak_diversity, 6)})
            self.warn(f"step {trainer.step}: possible mode collapse: fixed-latent sample diversity "
                      f"{div:.3g} is below {self.cfg.collapse_ratio:g} x its peak {self.peak_diversity:.3g}")
        self.collapsed = low

    # ------------------------------------------------------------------------------------------
    # exact resume

    def state_dict(self) -> dict[str, Any]:
        return {"failures": self.failures, "peak_diversity": self.peak_diversity, "collapsed": self.collapsed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.failures = int(state["failures"])
        self.peak_diversity = float(state["peak_diversity"])
        self.collapsed = bool(state["collapsed"])


def _log_event(trainer: Trainer, record: dict[str, Any]) -> None:
    """Write an event line to metrics.jsonl through the run's MetricsLog, when there is one."""
    for cb in trainer.callbacks:
        if isinstance(cb, MetricsLog):
            cb.event(trainer, record)
            return


# ---------------------------------------------------------------------------------------------
# Ctrl-C / SIGTERM between steps, so the checkpoint written on the way out is an exact one


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[Callable[[], int]]:
    """Within the block, SIGINT/SIGTERM only set a flag that the loop checks between steps.

    The check returns the signal number that asked to stop, or 0.

    A second signal interrupts at once. Outside the main thread (where handlers cannot be set) the
    block does nothing and interrupts behave as usual.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: 0
        return
    requested = {"signum": 0}  # the signal that asked to stop; 0 while none has
    previous = {}

    def handler(signum: int, frame: Any) -> None:
        if requested["signum"]:
            raise Interrupted(signum)
        requested["signum"] = signum

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):
            pass
    try:
        yield lambda: requested["signum"]
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
