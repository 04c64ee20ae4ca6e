"""The core's own plugins (tasks, the local launcher) pass the conformance check of their kind
(unfreeze_core.testing), and each check can fail: a plugin that breaks its kind's promise is caught. Each plugin
distribution checks its own classes in plugins/<name>/tests/."""

from __future__ import annotations

import pytest

from unfreeze_core import testing
from unfreeze_core.api import Selector
from unfreeze_core.plugins import get_plugins

REGISTRIES = get_plugins().registries()


def registered(kind):
    return sorted(REGISTRIES[kind].entries)


WORLD_DATA = {"xnli": "nli", "xcopa": "copa", "xquad": "qa", "mlqa": "qa"}


@pytest.mark.parametrize("name", registered("tasks"))
def test_every_builtin_task_conforms(name):
    from unfreeze_core import world

    options = {"train_limit": 8, "eval_limit": 8}
    if name in WORLD_DATA:  # a hub task, checked offline on the world's files in its schema
        options["data_dir"] = str(world.data_dir(WORLD_DATA[name]))
    testing.check_task(REGISTRIES["tasks"].get(name), options)


def test_the_local_launcher_conforms(tmp_path):
    states = testing.check_launcher(REGISTRIES["launchers"].get("local"), folder=tmp_path)
    assert states["good"] == [("running", None), ("done", None)]


class Repeats(Selector):
    """Breaks the contract: picks unit 0 every time."""

    def select(self, ctx):
        return [0]


class GlobalRandom(Selector):
    """Breaks the contract: draws from the global RNG instead of ctx.rng."""

    def select(self, ctx):
        import random

        return [random.choice(ctx.frozen)]


class ClaimsTooLittle(Selector):
    """Breaks the contract: one unit every k steps (the last at (L-1)·k) but declares its extent k, as LPFT's."""

    def schedule_extent(self, k, num_units):
        return k

    def select(self, ctx):
        return [max(ctx.frozen)]


def test_the_selector_check_catches_a_broken_selector():
    with pytest.raises(AssertionError, match="each unit is expected"):
        testing.check_selector(Repeats)
    with pytest.raises(AssertionError, match="same seed"):
        testing.check_selector(GlobalRandom, sizes=(8,))
    with pytest.raises(AssertionError, match="after its declared schedule_extent 2"):
        testing.check_selector(ClaimsTooLittle, sizes=(4,))


def test_the_estimator_check_catches_an_estimator_that_changes_weights():
    from unfreeze_core.api import FisherEstimator

    class Steps(FisherEstimator):
        def estimate(self, model, *, units, unit_modules, task, batches, generator=None):
            import torch

            with torch.no_grad():
                units[0][0][1].add_(1.0)  # a step of training, not a measurement
            return {u: 1.0 for u in units}

    with pytest.raises(AssertionError, match="changed: an estimator must not change a weight"):
        testing.check_estimator(Steps)
