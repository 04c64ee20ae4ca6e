"""FUN (Fisher unfreezing): every k steps, unfreeze the still-frozen unit with the largest tr(F)."""

from __future__ import annotations

from dataclasses import dataclass

from unfreeze_core.api import Selection, SelectionContext, Selector
from unfreeze_core.errors import UnfreezeError


class FUN(Selector):
    """At each SELECT, tr(F) per unit on a model state where every unit is trainable (the trainer's
    ``fisher`` service: training is left untouched), on ``--fisher-batches`` training batches of the
    optimizer step's size (``--batch-size``, whatever the accumulation and the number of processes); the
    frozen unit with the largest score is unfrozen and all scores go into schedule.json, with the
    batches and examples the estimate read. FUN scores with the run's estimator (``--fisher``, its options
    ``-o fisher.KEY=V``).

    By default every estimate reads all ``fisher_batches`` batches, as the paper does. Sequential
    stopping is an option: with ``stop_z > 0`` the estimate stops once the best frozen unit leads every
    other frozen unit by ``stop_z`` standard errors of the paired per-example difference, after at least
    ``min_batches`` (estimators that stream per-example values, e.g. ``exact``; the batches counted are
    the ones the estimator is handed: step batches cut into one process's micro-batches).

    ``top_first`` reproduces the released code: the top unit is unfrozen at step 0 without an
    estimate, and FUN decides from step k on. With one frozen unit left there is nothing to decide,
    so no estimate is made (the event has no scores).
    """

    scores_with_fisher = True

    @dataclass
    class Options:
        top_first: bool = False
        stop_z: float = 0.0
        min_batches: int = 5

        def __post_init__(self):
            if self.min_batches <= 0 or self.stop_z < 0:
                raise ValueError("min_batches must be positive and stop_z >= 0")

    def unused_options(self):
        return frozenset({"min_batches"}) if self.options.stop_z == 0 else frozenset()  # read only when stopping

    def select(self, ctx: SelectionContext):
        if self.options.top_first and ctx.step == 0:
            return [ctx.num_units - 1]
        if len(ctx.frozen) == 1:
            return list(ctx.frozen)
        if ctx.fisher is None:
            raise UnfreezeError("the fisher selector needs the trainer's tr(F) service")
        from unfreeze_core.fisher import StopWhenRanked

        frozen, options = list(ctx.frozen), self.options

        def sequential(inner):  # the run's estimator (--fisher)
            return inner and StopWhenRanked(inner, frozen, z=options.stop_z, min_batches=options.min_batches)

        scores = ctx.fisher(estimator=sequential)  # on the run's --fisher-batches batches
        best = max(ctx.frozen, key=lambda u: (scores[u], u))
        return Selection([best], scores)
