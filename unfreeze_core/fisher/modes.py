"""Running an estimator without disturbing training: on a deep copy, or in place with everything restored.

Either way the model is in eval mode (dropout off, as the released code estimates) and exactly the
units' parameters require grad while the estimator runs.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager


@contextmanager
def estimation_mode(model, units: dict):
    """Eval mode, only the units' parameters requiring grad; everything restored on exit (grads included)."""
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    grads = [p.grad for p in params]
    modes = {m: m.training for m in model.modules()}
    unit_ids = {id(p) for ps in units.values() for _, p in ps}
    try:
        model.eval()
        for p in params:
            p.requires_grad_(id(p) in unit_ids)
        yield model
    finally:
        for p, flag, grad in zip(params, flags, grads):
            p.requires_grad_(flag)
            p.grad = grad
        for m, training in modes.items():
            m.training = training


def fisher_scores(model, backend, task, estimator, batches, generator=None, *, in_place: bool = False
                  ) -> dict[int, float]:
    """tr(F) per unit with every unit trainable, in eval mode, leaving ``model`` and training untouched.

    ``estimator`` is a ``FisherEstimator``; ``in_place=False`` works on a deep copy (the paper's
    Algorithm 2, safe under DDP); ``in_place=True`` works on the live (unwrapped, single-process) model
    and restores it exactly.
    """
    import torch

    probe = model if in_place else copy.deepcopy(model)
    units = backend.units(probe)
    with estimation_mode(probe, units), torch.enable_grad():
        scores = estimator.estimate(probe, units=units, unit_modules=backend.unit_modules(probe), task=task,
                                    batches=batches, generator=generator)
    return {int(u): float(s) for u, s in scores.items()}


__all__ = ["estimation_mode", "fisher_scores"]
