"""Typed records for the event hooks: what a watcher plugin receives, one dataclass per kind;
``hook`` names the event hook that receives it.

``as_dict()`` is the record's line in ``log.jsonl`` (and what the older ``on_log(step, metrics)``
hook receives), so the file format does not depend on who watches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class LossRecord:
    """Training loss at ``step`` (updates done): the mean over the updates since the last record."""

    hook: ClassVar[str] = "on_loss"

    step: int
    loss: float
    lr: float
    trainable_units: list[int]
    elapsed_s: float

    def as_dict(self) -> dict:
        return {"step": self.step, "loss": self.loss, "lr": self.lr, "trainable_units": list(self.trainable_units),
                "elapsed_s": self.elapsed_s}


@dataclass(frozen=True)
class ValidationRecord:
    """The train language's validation scores (metric -> value) after ``step`` updates."""

    hook: ClassVar[str] = "on_validation"

    step: int
    scores: dict[str, float]

    def as_dict(self) -> dict:
        return {"step": self.step, "validation": dict(self.scores)}


@dataclass(frozen=True)
class FisherRecord:
    """tr(F) of every unit at ``step`` (before that step's update), measured with every unit trainable.

    ``fisher_sum`` sums it over the units trainable at that step; ``fisher_per_trainable`` divides that
    sum by their number. ``batches``: training batches (of the optimizer step's size) the estimate read;
    ``examples``: the examples they held; ``train_examples``: set when the training set was smaller than
    the batches asked for (every example used once)."""

    hook: ClassVar[str] = "on_fisher"

    step: int
    fisher: dict[int, float]
    fisher_sum: float
    fisher_per_trainable: float
    trainable_units: list[int]
    batches: int
    examples: int | None = None
    train_examples: int | None = None

    def as_dict(self) -> dict:
        line = {"step": self.step, "fisher": {str(u): s for u, s in sorted(self.fisher.items())},
                "fisher_sum": self.fisher_sum, "fisher_per_trainable": self.fisher_per_trainable,
                "trainable_units": list(self.trainable_units), "batches": self.batches}
        if self.examples is not None:
            line["examples"] = self.examples
        if self.train_examples is not None:
            line["train_examples"] = self.train_examples
        return line

    def metrics(self) -> dict[str, float]:
        """The record as tracker metrics (``fisher/unit_U``, ``fisher/sum_trainable``, ``fisher/per_trainable``)."""
        values = {f"fisher/unit_{u}": s for u, s in self.fisher.items()}
        values.update({"fisher/sum_trainable": self.fisher_sum, "fisher/per_trainable": self.fisher_per_trainable})
        return values


@dataclass(frozen=True)
class UnfreezeRecord:
    """Units that became trainable at ``step``; ``scores`` is the selector's score per unit, or None."""

    hook: ClassVar[str] = "on_unfreeze"

    step: int
    units: list[int]
    scores: dict[int, float] | None = field(default=None)

    @classmethod
    def from_event(cls, event: dict) -> "UnfreezeRecord":
        """From a ``schedule.json`` event."""
        scores = event.get("scores")
        return cls(event["step"], list(event["units"]),
                   None if scores is None else {int(u): float(s) for u, s in scores.items()})

    def metrics(self, trainable: int) -> dict[str, float]:
        """The record as tracker metrics; ``trainable``: units trainable after it."""
        values = {f"unfreeze/unit_{u}": 1.0 for u in self.units}
        values.update({f"unfreeze/score_{u}": s for u, s in (self.scores or {}).items()})
        values["unfreeze/trainable_units"] = float(trainable)
        return values


@dataclass(frozen=True)
class StepRecord:
    """An optimizer step ended: ``step`` of ``steps`` updates done, its loss, the units trainable. Not logged
    to ``log.jsonl`` (every step): what a progress display listens to."""

    hook: ClassVar[str] = "on_step"

    step: int
    steps: int
    loss: float
    trainable_units: list[int]

    def as_dict(self) -> dict:
        return {"step": self.step, "steps": self.steps, "loss": self.loss,
                "trainable_units": list(self.trainable_units)}


__all__ = ["LossRecord", "ValidationRecord", "FisherRecord", "UnfreezeRecord", "StepRecord"]
