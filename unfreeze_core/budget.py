"""A run's budget, by one rule: how many optimizer steps it trains, and whether they cover its schedule.

``Selector.schedule_extent(k, L)`` is the last step at which a SELECT can still make a unit trainable. The loop
calls SELECT at step s before update s + 1 (steps 0 .. steps − 1), so a unit unfrozen at step s is trained only
when the run has at least s + 1 steps: a budget covers the schedule when ``steps >= extent + 1``. Top-down
with k 10 on 4 units unfreezes its last unit at step 30 and needs 31 steps; LPFT with k steps unfreezes at step
k and needs k + 1 (with exactly k it would train only the head).

``run_steps`` is the budget in steps; ``check`` the one refusal. ``preflight`` (before a model is built), the
trainer (from its sharded loader) and the Hugging Face callback (``max_steps``) all call these two.
"""

from __future__ import annotations

import math

from .config import RunConfig
from .errors import UnfreezeError


def run_steps(config, batches_per_epoch: int | None) -> int | None:
    """The budget in optimizer steps: ``--steps``, or ``--epochs`` × the micro-batches one process draws per
    epoch (``batches_per_epoch``, its shard) / ``--grad-accum``, at least 1; the default otherwise. None when
    the budget is in epochs and ``batches_per_epoch`` is not known yet."""
    if config.epochs is not None:
        if batches_per_epoch is None:
            return None
        from .limits import MAX_COUNT

        steps = max(1, math.ceil(config.epochs * batches_per_epoch / config.grad_accum))
        if steps > MAX_COUNT:
            raise UnfreezeError(f"--epochs {config.epochs:g} is {steps} optimizer steps of {batches_per_epoch} batches "
                                f"each, above the largest budget unfreeze can honour ({MAX_COUNT})")
        return steps
    return config.steps if config.steps is not None else RunConfig.DEFAULT_STEPS


def batches_per_epoch(config, train_rows: int, processes: int = 1) -> int:
    """Micro-batches one process draws in an epoch of ``train_rows`` examples (what its sharded loader holds)."""
    micro = max(1, config.batch_size // (processes * config.grad_accum))
    return -(-(-(-train_rows // micro)) // processes)


def needed_steps(selector, k: int, num_units: int) -> int:
    """The fewest steps that train every unit the selector can unfreeze: its extent + 1 (1 when static)."""
    return selector.schedule_extent(k, num_units) + 1


def check(selector, k: int, num_units: int, steps: int) -> None:
    """Refuse (one line) a budget of ``steps`` that ends before a unit the selector unfreezes is trained."""
    extent = selector.schedule_extent(k, num_units)
    if steps > extent:
        return
    raise UnfreezeError(f"the budget of {steps} steps is too short for selector {type(selector).__name__}: its last "
                        f"unfreezing is at step {extent} (k = {k}, {num_units} units) and is trained from update "
                        f"{extent + 1} on, so the run needs at least {extent + 1} steps")


__all__ = ["run_steps", "batches_per_epoch", "needed_steps", "check"]
