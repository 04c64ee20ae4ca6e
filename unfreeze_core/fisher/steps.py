"""Optimizer-step batches of an estimate: which micro-batches make up each one.

An estimate reads ``fisher_batches`` batches of the optimizer step's size (``--batch-size``), handed to the
estimator as micro-batches of one process's training size (``controller.TrainBatches``), so that an estimate
needs no more memory than a training step. An estimator whose quantity is per *batch* (``batch``,
``official``: the gradient of a batch's mean loss, squared) must compute it over the step batch, not the
micro-batch, or its value would depend on ``--grad-accum`` and the number of processes. ``StepBatches`` is
the list of micro-batches with ``groups``, how many micro-batches make each step batch; ``step_groups``
iterates the step batches (a plain list: each batch is a step batch of its own).
"""

from __future__ import annotations

from typing import Iterator


class StepBatches(list):
    """Micro-batches (dicts of tensors), in order, and ``groups``: how many of them make each step batch."""

    def __init__(self, batches=(), groups: list[int] | None = None):
        super().__init__(batches)
        self.groups = list(groups) if groups is not None else [1] * len(self)
        if sum(self.groups) != len(self) or any(g <= 0 for g in self.groups):
            raise ValueError(f"groups {self.groups} do not cut {len(self)} micro-batches into step batches")


def groups_of(batches) -> list[int]:
    """How many micro-batches make each step batch of ``batches`` (a plain list: 1 each)."""
    return list(getattr(batches, "groups", None) or [1] * len(batches))


def step_groups(batches) -> Iterator[list]:
    """The step batches of ``batches``, each as the list of its micro-batches."""
    items = iter(batches)
    for size in groups_of(batches):
        yield [next(items) for _ in range(size)]


def accumulate_squared_grads(losses, params: dict) -> dict:
    """{unit: Σ_params (∂L/∂p)²} in float64 for L = Σ of ``losses`` (one per micro-batch, each already weighted
    by its share of the step batch): the gradient is accumulated over the micro-batches, as training's
    gradient accumulation does, and squared once. ``params``: unit -> trainable parameters."""
    import torch

    flat = [p for ps in params.values() for p in ps]
    total = [None] * len(flat)
    for loss in losses:
        for i, g in enumerate(torch.autograd.grad(loss, flat, allow_unused=True)):
            if g is not None:
                total[i] = g.double() if total[i] is None else total[i] + g.double()
    grads = iter(total)
    return {u: sum(float(g.pow(2).sum()) for g in (next(grads) for _ in ps) if g is not None)
            for u, ps in params.items()}


__all__ = ["StepBatches", "groups_of", "step_groups", "accumulate_squared_grads"]
