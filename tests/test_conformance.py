"""Every built-in plugin passes the conformance check of its kind (unfreeze_core.testing), and each check can
fail: a plugin that breaks its kind's promise is caught."""

from __future__ import annotations

import pytest

from unfreeze_core import testing
from unfreeze_core.api import Selector
from unfreeze_core.plugins import get_plugins

REGISTRIES = get_plugins().registries()


def registered(kind):
    return sorted(REGISTRIES[kind].entries)


SELECTOR_OPTIONS = {"permutation": ({"order": "3,1,0,2"}, True, (4,)), "surgical": ({"units": "0,2"}, False, (4, 8))}


@pytest.mark.parametrize("name", registered("selectors"))
def test_every_builtin_selector_conforms(name):
    options, every_unit, sizes = SELECTOR_OPTIONS.get(name, (None, True, (1, 4, 8)))
    testing.check_selector(REGISTRIES["selectors"].get(name), options, every_unit=every_unit, sizes=sizes)


BACKENDS = {"madx": ("world", None), "mdeberta": ("tiny-deberta", {"lang_adapters": "fresh"}),
            "mdeberta-lora": ("tiny-deberta", None)}


@pytest.mark.parametrize("name", registered("adapter_backends"))
def test_every_builtin_backend_conforms(name):
    model, options = BACKENDS.get(name, ("tiny", None))
    units = testing.check_backend(REGISTRIES["adapter_backends"].get(name), options, model=model)
    assert len(units) in (4, 8)


@pytest.mark.parametrize("name", registered("fisher_estimators"))
def test_every_builtin_estimator_conforms(name):
    scores = testing.check_estimator(REGISTRIES["fisher_estimators"].get(name))
    assert any(v > 0 for v in scores.values())


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


def test_the_slurm_launcher_conforms_on_submitits_local_executor(tmp_path):
    pytest.importorskip("submitit")
    if "slurm" not in REGISTRIES["launchers"].entries:
        pytest.skip("unfreeze-slurm is not installed")
    testing.check_launcher(REGISTRIES["launchers"].get("slurm"), {"cluster": "local", "poll_s": 0.5},
                           folder=tmp_path)


class Repeats(Selector):
    """Breaks the contract: picks unit 0 every time."""

    def select(self, ctx):
        return [0]


class GlobalRandom(Selector):
    """Breaks the contract: draws from the global RNG instead of ctx.rng."""

    def select(self, ctx):
        import random

        return [random.choice(ctx.frozen)]


def test_the_selector_check_catches_a_broken_selector():
    with pytest.raises(AssertionError, match="each unit is expected"):
        testing.check_selector(Repeats)
    with pytest.raises(AssertionError, match="same seed"):
        testing.check_selector(GlobalRandom, sizes=(8,))


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
