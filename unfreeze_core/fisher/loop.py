"""The exact fallback for any module: per-example gradients by one forward and backward per example."""

from __future__ import annotations

from .labels import log_probs


def loop_sq_norms(model, task, inputs: dict, labels: list, params: dict[int, list]) -> dict:
    """{unit: [B] Σ_params ||∇ log p(ŷ_i|x_i)||²} for ``params`` by one forward and backward per example
    (exact for any module, B times the cost): the fallback for modules ``PerExampleSquaredNorms`` cannot
    decompose. ``inputs`` is a batch without labels (``model(**inputs)``), ``labels`` the ŷ per head
    (each [B]) drawn for the whole batch."""
    import torch

    n = labels[0].shape[0]
    flat = [p for ps in params.values() for p in ps]
    out = {u: torch.zeros(n, dtype=torch.float64) for u in params}
    for i in range(n):
        one = {k: v[i:i + 1] for k, v in inputs.items()}
        logp = log_probs(task.output_distributions(model(**one)), [y[i:i + 1] for y in labels]).sum()
        grads = iter(torch.autograd.grad(logp, flat, allow_unused=True))
        for u, ps in params.items():
            out[u][i] = sum(float(g.double().pow(2).sum()) for g in (next(grads) for _ in ps) if g is not None)
    return out


__all__ = ["loop_sq_norms"]
