"""tr(F) estimators: ``exact`` (Eq. 1, per-example), ``batch`` (Appendix D) and ``official`` (released code).

Every estimator gets a model in eval mode whose units (and only they) require grad, and returns
{unit: tr(F)}; gold labels in the batches are ignored. See docs/fisher.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from unfreeze_core.api import FisherEstimator
from unfreeze_core.hookspecs import hookimpl

__version__ = "0.1.0"


def _unit_params(units):
    return {u: [p for _, p in params if p.requires_grad] for u, params in units.items()}


def _squared_grads(loss, params: dict) -> dict:
    """{unit: Σ_params (∂loss/∂p)²} in float64, from one backward of ``loss``."""
    import torch

    flat = [p for ps in params.values() for p in ps]
    grads = iter(torch.autograd.grad(loss, flat, allow_unused=True))
    return {u: sum(float(g.double().pow(2).sum()) for g in (next(grads) for _ in ps) if g is not None)
            for u, ps in params.items()}


class Exact(FisherEstimator):
    """Eq. 1: mean over examples of Σ_params ||∇ log p(ŷ_i|x_i)||², ŷ_i ~ p(·|x_i), per unit.

    Per-example squared norms come from one batched backward of Σ_i log p(ŷ_i|x_i) per batch
    (``unfreeze_core.fisher.PerExampleSquaredNorms``: nn.Linear, LoRA and (IA)³ modules), not from a
    loop over examples; parameters of any other module get theirs from one backward per example
    (``loop_sq_norms``): exact for every backend, slower only for those parameters. It streams, so
    ``estimate`` is ``FisherEstimator``'s: the mean of ``stream``'s values over every example.
    """

    @dataclass
    class Options:
        labels: str = "sample"
        """sample (Eq. 1: ŷ drawn from the model) | argmax (the most likely label, deterministic)."""

        def __post_init__(self):
            if self.labels not in ("sample", "argmax"):
                raise ValueError(f"labels must be sample or argmax, got {self.labels!r}")

    def stream(self, model, *, units, unit_modules, task, batches, generator=None):
        """Per batch, {unit: [B] squared gradient norms per example}; their mean over examples is tr(F)."""
        from unfreeze_core.fisher import PerExampleSquaredNorms, argmax_labels, model_inputs, \
            per_example_sq_norms, sample_labels

        with PerExampleSquaredNorms(unit_modules, fallback=True) as capture:
            for batch in batches:
                inputs = model_inputs(batch)
                dists = task.output_distributions(model(**inputs))
                labels = sample_labels(dists, generator) if self.options.labels == "sample" else argmax_labels(dists)
                norms = per_example_sq_norms(capture, model, task, inputs, dists, labels)
                yield {u: norms[u] for u in units}


def _step_losses(model, task, micro_batches, loss_of):
    """(losses, examples) of one optimizer-step batch given as micro-batches: ``loss_of(dists)`` is a micro-batch's
    (sum of NLL, rows it averages over); each loss returned is its sum divided by the step batch's rows, so
    their sum is the step batch's mean loss, whatever the split."""
    from unfreeze_core.fisher import model_inputs

    parts, rows, examples = [], 0, 0
    for batch in micro_batches:
        dists = task.output_distributions(model(**model_inputs(batch)))
        total, n = loss_of(dists)
        parts.append(total)
        rows += n
        examples += dists[0].shape[0]
    return [p / rows for p in parts], examples


class Batch(FisherEstimator):
    """Appendix D as written: per batch, ŷ sampled, loss = mean NLL(ŷ) (summed over heads),
    Σ_params (∇loss)² / |b|; the mean of that over the batches. Mixes in cross terms between examples.

    A batch is the optimizer step's batch (``--batch-size``): handed over as micro-batches
    (``unfreeze_core.fisher.step_groups``), its loss's gradient is accumulated over them as training does,
    so the value does not depend on ``--grad-accum`` or the number of processes."""

    def estimate(self, model, *, units, unit_modules, task, batches, generator=None):
        import torch
        import torch.nn.functional as F

        from unfreeze_core.fisher import accumulate_squared_grads, sample_labels, step_groups

        def nll(dists):
            labels = sample_labels(dists, generator)
            return sum(F.nll_loss(torch.log_softmax(d.float(), -1), y, reduction="sum")
                       for d, y in zip(dists, labels)), dists[0].shape[0]

        params = _unit_params(units)
        totals, count = {u: 0.0 for u in units}, 0
        for micro_batches in step_groups(batches):
            losses, examples = _step_losses(model, task, micro_batches, nll)
            for u, sq in accumulate_squared_grads(losses, params).items():
                totals[u] += sq / examples
            count += 1
        return {u: t / max(count, 1) for u, t in totals.items()}


class Official(FisherEstimator):
    """The released code's scorer (UKPLab/naacl2024-fun ``_scheduled_unfreeze_loop``): argmax labels;
    QA start and end logits concatenated along the batch; loss = mean NLL; Σ_params p.grad² / |b| summed
    (not averaged) over the batches. The released code used 41 batches (pass ``fisher_batches=41``).
    A batch is the optimizer step's batch, its gradient accumulated over the micro-batches (as ``batch``)."""

    def estimate(self, model, *, units, unit_modules, task, batches, generator=None):
        import torch
        import torch.nn.functional as F

        from unfreeze_core.fisher import accumulate_squared_grads, step_groups

        def nll(dists):
            output = torch.cat(dists, dim=0) if len(dists) > 1 else dists[0]
            label = output.max(1)[1].view(-1).detach()
            return F.nll_loss(F.log_softmax(output, dim=1), label, reduction="sum"), output.shape[0]

        params = _unit_params(units)
        totals = {u: 0.0 for u in units}
        for micro_batches in step_groups(batches):
            losses, examples = _step_losses(model, task, micro_batches, nll)
            for u, sq in accumulate_squared_grads(losses, params).items():
                totals[u] += sq / examples
        return totals


def one_by_one(model, *, units, task, batches, generator=None, labels: str = "sample") -> dict[int, float]:
    """The reference Eq. 1: ŷ drawn as ``exact`` draws it (same generator use), then one backward per example.

    Slow by design (the benchmark's baseline and a check of ``exact``)."""
    import torch

    from unfreeze_core.fisher import argmax_labels, log_probs, model_inputs, sample_labels

    params = _unit_params(units)
    totals, count = {u: 0.0 for u in units}, 0
    for batch in batches:
        inputs = model_inputs(batch)
        with torch.no_grad():
            dists = task.output_distributions(model(**inputs))
        ys = sample_labels(dists, generator) if labels == "sample" else argmax_labels(dists)
        n = dists[0].shape[0]
        for i in range(n):
            one = {k: v[i:i + 1] for k, v in inputs.items()}
            logp = log_probs(task.output_distributions(model(**one)), [y[i:i + 1] for y in ys]).sum()
            for u, sq in _squared_grads(logp, params).items():
                totals[u] += sq
        count += n
    return {u: t / max(count, 1) for u, t in totals.items()}


@hookimpl
def register_fisher_estimators(register):
    register("exact", Exact)
    register("batch", Batch)
    register("official", Official)
