"""The scheduled-unfreezing selectors of the paper (Algorithm 1's SELECT)."""

from __future__ import annotations

from dataclasses import dataclass

from unfreeze_core.api import SelectionContext, Selector
from unfreeze_core.hookspecs import hookimpl

__version__ = "0.1.0"


class Standard(Selector):
    """Every unit trainable from step 0 (the paper's "Ada")."""

    static = True

    def select(self, ctx: SelectionContext) -> list[int]:
        return ctx.frozen


class TopDown(Selector):
    """Gradual unfreezing (GU): units L-1, L-2, ..., 0, one every k steps."""

    def select(self, ctx):
        return [max(ctx.frozen)]


class BottomUp(Selector):
    """Reverse GU: units 0, 1, ..., L-1, one every k steps (a control that transfers worse)."""

    def select(self, ctx):
        return [min(ctx.frozen)]


class LPFT(Selector):
    """Linear probing, then fine-tuning: only the head for k steps, then every unit."""

    def schedule_extent(self, k, num_units):
        return k  # every unit at step k: a budget of k + 1 steps trains them, whatever L

    def select(self, ctx):
        return [] if ctx.step == 0 else ctx.frozen


def _check_units(units: list[int], num_units: int, what: str) -> None:
    bad = [u for u in units if not 0 <= u < num_units]
    if bad:
        raise ValueError(f"{what} names unit {bad[0]}, but the model has units 0..{num_units - 1}")
    if len(set(units)) != len(units):
        raise ValueError(f"{what} names a unit twice: {units}")


class Surgical(Selector):
    """Surgical fine-tuning: a fixed subset of units, trainable from step 0."""

    static = True

    @dataclass
    class Options:
        units: list[int] | None = None

        def __post_init__(self):
            if not self.units:
                raise ValueError("surgical needs the units to train, e.g. -o units=0,1")

    def check(self, num_units):
        _check_units(self.options.units, num_units, "option 'units'")

    def select(self, ctx):
        return list(self.options.units)


class Random(Selector):
    """A random still-frozen unit every k steps (seeded by the run's seed)."""

    def select(self, ctx):
        return [ctx.rng.choice(ctx.frozen)]


class Permutation(Selector):
    """A fixed order: order[j] is unfrozen at step j·k (e.g. the paper's §5.2 orders)."""

    @dataclass
    class Options:
        order: list[int] | None = None

        def __post_init__(self):
            if not self.order:
                raise ValueError("permutation needs the order, e.g. -o order=11,10,1,0,3,9,6,8,2,5,7,4")

    def check(self, num_units):
        _check_units(self.options.order, num_units, "option 'order'")

    def select(self, ctx):
        remaining = [u for u in self.options.order if u in ctx.frozen]
        return remaining[:1]


@hookimpl
def register_selectors(register):
    register("standard", Standard)
    register("topdown", TopDown)
    register("bottomup", BottomUp)
    register("lpft", LPFT)
    register("surgical", Surgical)
    register("random", Random)
    register("permutation", Permutation)
    from .fun import FUN; register("fisher", FUN)  # noqa: E702
