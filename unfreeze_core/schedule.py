"""Algorithm 1 (generalized scheduled unfreezing) as a small pure state machine.

At every step i with i mod k == 0 and i <= k·L, SELECT names units to unfreeze; once
trainable, a unit stays trainable. The classifier head is not a unit: it is always trainable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from .api import Selection, SelectionContext, Selector
from .errors import UnfreezeError


@dataclass
class Schedule:
    selector: Selector
    num_units: int
    k: int
    seed: int = 0
    trainable: list[int] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    def __post_init__(self):
        if self.k <= 0:
            raise ValueError(f"k must be a positive number of steps, got {self.k}")
        if self.num_units <= 0:
            raise ValueError("the model has no units to unfreeze")
        self.selector.check(self.num_units)
        self.rng = random.Random(self.seed)

    @property
    def frozen(self) -> list[int]:
        return [u for u in range(self.num_units) if u not in self.trainable]

    @property
    def last_step(self) -> int:
        """The last step at which SELECT may be called (k·L)."""
        return self.k * self.num_units

    def check_budget(self, steps: int) -> None:
        """A budget of ``steps`` must train every unit the selector can unfreeze (``budget.check``: at least
        ``Selector.schedule_extent`` + 1 steps)."""
        from .budget import check

        check(self.selector, self.k, self.num_units, steps)

    def due(self, step: int) -> bool:
        return step % self.k == 0 and step <= self.last_step and bool(self.frozen)

    def advance(self, step: int, **services: Callable) -> list[int]:
        """Call SELECT if ``step`` is due; return the units that became trainable (sorted)."""
        if not self.due(step):
            return []
        ctx = SelectionContext(step=step, num_units=self.num_units, k=self.k,
                               trainable=sorted(self.trainable), frozen=self.frozen, rng=self.rng, **services)
        choice = self.selector.select(ctx)
        selection = choice if isinstance(choice, Selection) else Selection(list(choice))
        units = sorted({int(u) for u in selection.units})
        bad = [u for u in units if not 0 <= u < self.num_units]
        if bad:
            raise ValueError(f"selector chose unit {bad[0]}, outside 0..{self.num_units - 1}")
        new = [u for u in units if u not in self.trainable]
        if new:
            self.trainable = sorted(self.trainable + new)
            event = {"step": step, "units": new}
            if selection.scores is not None:
                event["scores"] = {str(u): float(s) for u, s in sorted(selection.scores.items())}
            self.events.append(event)
        return new

    def state_dict(self) -> dict:
        version, internal, gauss = self.rng.getstate()
        return {"num_units": self.num_units, "k": self.k, "trainable": list(self.trainable),
                "events": [dict(e) for e in self.events], "rng": [version, list(internal), gauss]}

    def load_state_dict(self, state: dict) -> None:
        if state["num_units"] != self.num_units or state["k"] != self.k:
            raise ValueError("schedule state belongs to a different number of units or k")
        self.trainable = list(state["trainable"])
        self.events = [dict(e) for e in state["events"]]
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))


def plan(selector: Selector, num_units: int, k: int, steps: int, seed: int = 0) -> list[dict]:
    """The unfreeze events of a whole run for a selector that needs no model (tests, dry runs)."""
    schedule = Schedule(selector, num_units, k, seed)
    for step in range(steps):
        schedule.advance(step)
    return schedule.events
