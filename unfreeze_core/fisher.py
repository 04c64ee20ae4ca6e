"""tr(F) on a copy of the model, so that estimating never disturbs training."""

from __future__ import annotations

import copy


def fisher_scores(model, backend, task, estimator, batches, generator=None) -> dict[int, float]:
    """tr(F) per unit, estimated on a deep copy of ``model`` with every unit trainable, in eval mode."""
    import torch

    probe = copy.deepcopy(model)
    probe.eval()
    for p in probe.parameters():
        p.requires_grad_(False)
    units = backend.units(probe)
    for params in units.values():
        for _, p in params:
            p.requires_grad_(True)
    with torch.enable_grad():
        scores = estimator.estimate(probe, units=units, unit_modules=backend.unit_modules(probe), task=task,
                                    batches=batches, generator=generator)
    del probe
    return {int(u): float(s) for u, s in scores.items()}
