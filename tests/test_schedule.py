"""Algorithm 1 with every built-in selector: exact units at exact steps for several (N, k, L)."""

import pytest

from unfreeze_core.api import Selector
from unfreeze_core.config import RunConfig
from unfreeze_core.errors import UnfreezeError
from unfreeze_core.options import parse_options
from unfreeze_core.schedule import Schedule, plan
from unfreeze_selectors import LPFT, BottomUp, Permutation, Random, Standard, Surgical, TopDown

SHAPES = [(4, 5, 100), (8, 3, 30), (12, 10, 200), (3, 1, 3)]  # (L, k, N)


def make(cls, **options):
    return cls(parse_options(cls.Options, options, cls.__name__))


@pytest.mark.parametrize("L,k,N", SHAPES)
def test_topdown_unfreezes_top_layer_first_one_every_k_steps(L, k, N):
    expected = [{"step": i * k, "units": [L - 1 - i]} for i in range(L) if i * k < N]
    assert plan(make(TopDown), L, k, N) == expected


@pytest.mark.parametrize("L,k,N", SHAPES)
def test_bottomup_unfreezes_bottom_layer_first(L, k, N):
    expected = [{"step": i * k, "units": [i]} for i in range(L) if i * k < N]
    assert plan(make(BottomUp), L, k, N) == expected


@pytest.mark.parametrize("L,k,N", SHAPES)
def test_standard_trains_everything_from_step_zero(L, k, N):
    assert plan(make(Standard), L, k, N) == [{"step": 0, "units": list(range(L))}]


@pytest.mark.parametrize("L,k,N", SHAPES)
def test_lpft_trains_only_the_head_for_k_steps_then_everything(L, k, N):
    assert plan(make(LPFT), L, k, N) == [{"step": k, "units": list(range(L))}]


def test_surgical_trains_the_chosen_units_only():
    assert plan(make(Surgical, units="1,3"), 6, 5, 100) == [{"step": 0, "units": [1, 3]}]
    assert plan(make(Surgical, units=[0]), 6, 5, 100) == [{"step": 0, "units": [0]}]


def test_surgical_rejects_units_outside_the_model():
    with pytest.raises(ValueError, match="unit 7"):
        Schedule(make(Surgical, units=[1, 7]), 6, 5)


@pytest.mark.parametrize("L,k,N", SHAPES)
def test_random_is_one_fresh_unit_every_k_steps_and_seeded(L, k, N):
    events = plan(make(Random), L, k, N, seed=11)
    assert [e["step"] for e in events] == [i * k for i in range(L)]
    assert sorted(u for e in events for u in e["units"]) == list(range(L))
    assert events == plan(make(Random), L, k, N, seed=11)


def test_random_differs_between_seeds():
    orders = {tuple(e["units"][0] for e in plan(make(Random), 12, 2, 30, seed=s)) for s in range(5)}
    assert len(orders) > 1


def test_permutation_follows_the_papers_order():
    order = [11, 10, 1, 0, 3, 9, 6, 8, 2, 5, 7, 4]
    events = plan(make(Permutation, order=",".join(map(str, order))), 12, 100, 2000)
    assert events == [{"step": 100 * j, "units": [u]} for j, u in enumerate(order)]


def test_select_is_not_called_after_k_times_L_or_when_all_are_trainable():
    calls = []

    class Spy(TopDown):
        def select(self, ctx):
            calls.append(ctx.step)
            return [] if ctx.step < 2 * ctx.k else super().select(ctx)

    plan(make(Spy), 3, 2, 100)
    # steps 0, 2 select nothing; 4, 6 unfreeze two units; k·L = 6 is the last call
    assert calls == [0, 2, 4, 6]


def test_state_round_trip_resumes_a_random_schedule_exactly():
    whole = plan(make(Random), 8, 3, 40, seed=5)
    first = Schedule(make(Random), 8, 3, seed=5)
    for step in range(10):
        first.advance(step)
    resumed = Schedule(make(Random), 8, 3, seed=999)
    resumed.load_state_dict(first.state_dict())
    for step in range(10, 40):
        resumed.advance(step)
    assert resumed.events == whole


def test_k_must_be_positive():
    with pytest.raises(ValueError):
        Schedule(make(TopDown), 4, 0)


# -- the selector declares its schedule's extent (issue 17, item 5) --------------------------------------------


class HoldAll(Selector):
    """A third party's static selector: a fixed half of the units from step 0, declared ``static``."""

    static = True

    def select(self, ctx):
        return list(range(ctx.num_units // 2))


class Twice(Selector):
    """A third party's selector that declares its own extent: half the units at 0, the rest at step k."""

    def schedule_extent(self, k, num_units):
        return k

    def select(self, ctx):
        return list(range(ctx.num_units // 2)) if ctx.step == 0 else ctx.frozen


def test_lpft_k_800_with_12_units_fits_2000_steps():
    Schedule(LPFT(), 12, 800).check_budget(2000)  # everything is trainable at step 800
    with pytest.raises(UnfreezeError, match="last unfreezing is at step 800"):
        Schedule(LPFT(), 12, 800).check_budget(799)
    assert plan(LPFT(), 12, 800, 2000)[-1] == {"step": 800, "units": list(range(12))}


def test_the_budget_asks_the_selector_not_its_name():
    Schedule(HoldAll(), 12, 800).check_budget(1)  # static: no schedule to cover, whatever its name
    Schedule(Twice(), 12, 800).check_budget(801)
    with pytest.raises(UnfreezeError, match="needs at least 801 steps"):
        Schedule(Twice(), 12, 800).check_budget(800)
    with pytest.raises(UnfreezeError, match="last unfreezing is at step 8800"):
        Schedule(TopDown(), 12, 800).check_budget(2000)  # the default extent: one unit every k steps


# -- one budget rule (issue 28, item 3): steps >= extent + 1, extent = the last step a SELECT can unfreeze ----


def test_lpft_with_steps_equal_to_k_is_refused_and_k_plus_one_trains_every_unit():
    """LPFT unfreezes everything at step k; the loop runs steps 0..steps-1 and updates after each SELECT, so
    steps = k would train the head only (seen passing the old rule steps >= extent)."""
    with pytest.raises(UnfreezeError, match="needs at least 11 steps"):
        Schedule(LPFT(), 4, 10).check_budget(10)
    Schedule(LPFT(), 4, 10).check_budget(11)
    assert plan(LPFT(), 4, 10, 11) == [{"step": 10, "units": [0, 1, 2, 3]}]  # at step 10, before update 11


def test_topdown_fits_exactly_its_last_unfreezing_plus_one():
    """Top-down, k 10, 4 units: the last unit at step 30 = (L-1)*k, so 31 steps fit and 30 do not (the old
    default extent k*L refused 31)."""
    Schedule(TopDown(), 4, 10).check_budget(31)
    with pytest.raises(UnfreezeError, match="needs at least 31 steps"):
        Schedule(TopDown(), 4, 10).check_budget(30)
    assert plan(TopDown(), 4, 10, 31)[-1] == {"step": 30, "units": [0]}


def test_every_caller_uses_the_one_rule(nli_dir, tmp_path):
    """preflight (before a model), the trainer's budget and the presets use budget.run_steps / budget.check:
    LPFT with --steps k is refused before anything is built, top-down at (L-1)*k+1 passes preflight."""
    from unfreeze_core.components import build
    from unfreeze_core.preflight import preflight

    def parts(selector, steps):
        config = RunConfig(task="nli", model="tiny", adapter="lora", selector=selector, k=10, steps=steps,
                           output_dir=str(tmp_path))
        config.options["task"] = {"data_dir": str(nli_dir), "languages": ["en"]}
        return build(config)

    made = parts("lpft", 10)
    with pytest.raises(UnfreezeError, match="needs at least 11 steps"):
        preflight(made.config, made)
    made = parts("topdown", 31)
    preflight(made.config, made)
    made = parts("topdown", 30)
    with pytest.raises(UnfreezeError, match="needs at least 31 steps"):
        preflight(made.config, made)


def test_a_paper_task_asks_for_k_only_when_the_selector_uses_it():
    from unfreeze_core.presets import check_budget

    given = frozenset({"task", "steps", "lr"})
    config = RunConfig(task="xnli", selector="x", given=given)
    check_budget(config, HoldAll())  # a third party's static selector needs no --k
    with pytest.raises(UnfreezeError, match="give --k"):
        check_budget(config, Twice())
