"""Sequential stopping: an estimate reads as few batches as FUN's decision needs (opt-in, ``stop_z``)."""

from __future__ import annotations

from ..api import FisherEstimator


class StopWhenRanked(FisherEstimator):
    """An estimator wrapper: read batches until the best ``candidates`` unit leads every other candidate
    by ``z`` standard errors of the paired per-example difference (same examples, same ŷ), after at least
    ``min_batches`` optimizer-step batches; at most all the batches given. It decides only at the end of a
    step batch (``fisher.step_groups``), so where it stops does not depend on how the step batches were cut
    into micro-batches (``--grad-accum``, processes). Needs an ``inner`` that streams per-example values
    (``inner.streams``); otherwise, or with ``z <= 0``, it is ``inner`` unchanged. ``batches_used`` tells
    how many of the given (micro-)batches the last estimate read."""

    def __init__(self, inner: FisherEstimator, candidates, z: float = 3.0, min_batches: int = 5):
        super().__init__()
        self.inner, self.candidates, self.z, self.min_batches = inner, list(candidates), z, min_batches

    def estimate(self, model, *, units, unit_modules, task, batches, generator=None):
        import torch

        if not self.inner.streams or self.z <= 0 or len(self.candidates) < 2:
            self.batches_used = len(batches)
            return self.inner.estimate(model, units=units, unit_modules=unit_modules, task=task, batches=batches,
                                       generator=generator)
        from .steps import groups_of

        ends, total = set(), 0
        for size in groups_of(batches):  # the micro-batch count at the end of each step batch
            total += size
            ends.add(total)
        seen = {u: [] for u in units}
        self.batches_used, steps_read = 0, 0
        for values in self.inner.stream(model, units=units, unit_modules=unit_modules, task=task, batches=batches,
                                        generator=generator):
            for u in seen:
                seen[u].append(values[u].detach().double().cpu())
            self.batches_used += 1
            if self.batches_used not in ends:
                continue
            steps_read += 1
            if steps_read >= self.min_batches and self._ranked({u: torch.cat(v) for u, v in seen.items()}):
                break
        return {u: float(torch.cat(v).mean()) if v else 0.0 for u, v in seen.items()}

    def _ranked(self, values) -> bool:
        means = {u: float(values[u].mean()) for u in self.candidates}
        best = max(self.candidates, key=lambda u: (means[u], u))
        n = values[best].numel()
        for other in self.candidates:
            if other == best:
                continue
            diff = values[best] - values[other]
            if n < 2 or float(diff.mean()) <= self.z * float(diff.std()) / n ** 0.5:
                return False
        return True


__all__ = ["StopWhenRanked"]
