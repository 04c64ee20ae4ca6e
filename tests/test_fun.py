"""FUN and tr(F) tracking inside real (tiny) runs: estimation never disturbs training."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

import unfreeze_core.training as training  # noqa: E402
from unfreeze_core.api import FisherEstimator  # noqa: E402
from unfreeze_core.components import build  # noqa: E402
from unfreeze_core.config import RunConfig  # noqa: E402
from unfreeze_core.plugins import get_plugins  # noqa: E402


def config_for(nli_dir, tmp_path, **overrides):
    settings = dict(task="nli", model="tiny", adapter="madx", batch_size=8, lr=1e-2, log_every=2, k=2, steps=8,
                    fisher_batches=2, output_dir=str(tmp_path / "runs"))
    config = RunConfig(**{**settings, **overrides})
    config.options["task"] = {"data_dir": str(nli_dir), "eval_limit": 8, "train_limit": 48, "languages": ["en"]}
    if config.adapter == "madx":
        config.options["adapter"] = {"lang_adapters": "fresh"}
    return config


def train(config, run_dir, option_pairs=()):
    from unfreeze_core.process import make_accelerator

    plugins = get_plugins()
    parts = build(config, plugins, list(option_pairs))  # FUN reads the run's fisher_batches (2)
    trainer = training.Trainer(parts.config, parts, make_accelerator(parts.config, run_dir), seed=0, run_dir=run_dir,
                               hook=plugins.hook)
    trainer.run()
    model = trainer.accelerator.unwrap_model(trainer.model)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, run_dir


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different[:5]


@pytest.mark.parametrize("adapter", ["madx", "lora"])
def test_tracking_on_and_off_end_with_identical_weights(adapter, nli_dir, tmp_path):
    off, _ = train(config_for(nli_dir, tmp_path, adapter=adapter, selector="topdown"), tmp_path / "off")
    on, run = train(config_for(nli_dir, tmp_path, adapter=adapter, selector="topdown", fisher_every=3),
                    tmp_path / "on")
    assert_same_weights(off, on)
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    tracked = [r for r in records if "fisher" in r]
    assert [r["step"] for r in tracked] == [0, 3, 6]
    last = tracked[-1]
    assert set(last["fisher"]) == {"0", "1", "2", "3"}
    trainable = last["trainable_units"]
    assert last["fisher_sum"] == pytest.approx(sum(last["fisher"][str(u)] for u in trainable))
    assert last["fisher_per_trainable"] == pytest.approx(last["fisher_sum"] / len(trainable))


def test_fun_unfreezes_the_largest_score_and_records_scores(nli_dir, tmp_path):
    _, run = train(config_for(nli_dir, tmp_path, selector="fisher"), tmp_path / "fun")
    events = json.loads((run / "schedule.json").read_text())
    assert [e["step"] for e in events] == [0, 2, 4, 6]
    assert sorted(u for e in events for u in e["units"]) == [0, 1, 2, 3]
    frozen = {0, 1, 2, 3}
    for event in events[:-1]:
        scores = {int(u): s for u, s in event["scores"].items()}
        assert set(scores) == {0, 1, 2, 3}
        assert event["units"] == [max(frozen, key=lambda u: (scores[u], u))]
        frozen -= set(event["units"])
    assert "scores" not in events[-1]  # one frozen unit left: nothing to estimate


def test_fun_in_place_equals_fun_on_a_deep_copy(nli_dir, tmp_path, monkeypatch):
    config = config_for(nli_dir, tmp_path, adapter="lora", selector="fisher")
    in_place, run_a = train(config, tmp_path / "a")
    import unfreeze_core.controller as controller

    original = controller.fisher_scores
    monkeypatch.setattr(controller, "fisher_scores", lambda *a, **kw: original(*a, **{**kw, "in_place": False}))
    copied, run_b = train(config_for(nli_dir, tmp_path, adapter="lora", selector="fisher"), tmp_path / "b")
    assert_same_weights(in_place, copied)
    assert (run_a / "schedule.json").read_text() == (run_b / "schedule.json").read_text()


def test_fun_options_top_first_and_estimator(nli_dir, tmp_path):
    config = config_for(nli_dir, tmp_path, selector="fisher", fisher="official")
    _, run = train(config, tmp_path / "top", [("selector", "top_first", "true")])
    events = json.loads((run / "schedule.json").read_text())
    assert events[0] == {"step": 0, "units": [3]}
    assert all("scores" in e for e in events[1:-1])


def test_fun_rejects_an_unknown_estimator(nli_dir, tmp_path):
    from unfreeze_core.errors import UnfreezeError

    with pytest.raises(UnfreezeError, match="nope"):
        train(config_for(nli_dir, tmp_path, selector="fisher", fisher="nope"), tmp_path / "x")


# -- FUN's defaults follow the paper (issue 11, item 3) ------------------------------------------------


class Streaming(FisherEstimator):
    """Per-example values where unit 1 leads unit 0 by far: sequential stopping would stop at once."""

    def stream(self, model, *, units, unit_modules, task, batches, generator=None):
        for _ in batches:
            yield {0: torch.full((4,), 1.0) + torch.rand(4) * 0.01, 1: torch.full((4,), 5.0) + torch.rand(4) * 0.01}


def fun_batches_read(options):
    from unfreeze_core.api import SelectionContext
    from unfreeze_selectors.fun import FUN

    selector = FUN(FUN.Options(**options))
    selector.check(2)
    used = {}

    def fisher(batches=12, estimator=None):  # 12: the run's fisher_batches
        wrapped = estimator(Streaming())
        scores = wrapped.estimate(None, units={0: [], 1: []}, unit_modules={}, task=None, batches=list(range(batches)))
        used["batches"] = wrapped.batches_used
        return scores

    import random

    ctx = SelectionContext(step=0, num_units=2, k=1, trainable=[], frozen=[0, 1], rng=random.Random(0), fisher=fisher)
    assert selector.select(ctx).units == [1]
    return used["batches"]


def test_fun_reads_every_batch_by_default_and_stops_early_only_when_asked():
    assert fun_batches_read({}) == 12
    assert fun_batches_read({"stop_z": 3.0, "min_batches": 5}) == 5


def test_train_batches_never_feed_an_example_twice():
    from unfreeze_core.controller import TrainBatches

    data = [{"idx": i} for i in range(20)]
    batches = TrainBatches(data, 8, lambda rows: {"idx": torch.tensor([r["idx"] for r in rows])}, seed=1)
    assert batches.available() == 3
    whole = [b["idx"].tolist() for b in batches(5, step=0)]  # asks for more than the set holds
    assert len(whole) == 3 and sorted(i for b in whole for i in b) == list(range(20))
    part = [i for b in batches(2, step=0) for i in b["idx"].tolist()]
    assert len(part) == len(set(part)) == 16
    assert [b["idx"].tolist() for b in batches(3, step=0)] == whole  # seeded by (seed, step)
    assert [b["idx"].tolist() for b in batches(3, step=1)] != whole
    from unfreeze_core.errors import UnfreezeError

    with pytest.raises(UnfreezeError, match="map-style"):
        next(TrainBatches(iter(data), 8, None, seed=1)(2, step=0))
    # step batches of 8 handed on in micro-batches of 3: the same examples in the same order
    micro = TrainBatches(data, 8, lambda rows: {"idx": torch.tensor([r["idx"] for r in rows])}, seed=1, micro=3)
    chunks = [b["idx"].tolist() for b in micro(5, step=0)]
    assert [len(c) for c in chunks] == micro.sizes(5) == [3, 3, 2, 3, 3, 2, 3, 1]
    assert [i for c in chunks for i in c] == [i for b in whole for i in b]
    assert micro.sizes(2) == [3, 3, 2, 3, 3, 2] and micro.available() == 3


def test_a_small_training_set_is_used_once_and_the_record_says_so(nli_dir, tmp_path, caplog):
    config = config_for(nli_dir, tmp_path, selector="fisher", fisher_every=4, fisher_batches=5)
    config.options["task"]["train_limit"] = 16  # two batches of 8
    with caplog.at_level("WARNING", logger="unfreeze"):
        _, run = train(config, tmp_path / "small")
    events = json.loads((run / "schedule.json").read_text())
    scored = [e for e in events if "scores" in e]
    assert scored and all(e["batches"] == 2 and e["examples"] == e["train_examples"] == 16 for e in scored)
    tracked = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if "fisher" in line]
    assert tracked and all(r["batches"] == 2 and r["train_examples"] == 16 for r in tracked)
    warnings = [r.getMessage() for r in caplog.records if "each estimate uses every example once" in r.getMessage()]
    assert len(warnings) == 1 and "16 examples" in warnings[0]


def test_fun_events_record_the_batches_read(nli_dir, tmp_path):
    _, run = train(config_for(nli_dir, tmp_path, selector="fisher", fisher_batches=3), tmp_path / "fun")
    scored = [e for e in json.loads((run / "schedule.json").read_text()) if "scores" in e]
    assert scored and all(e["batches"] == 3 and e["examples"] == 24 and "train_examples" not in e for e in scored)


# -- FUN scores the live model (issue 17, item 6) ---------------------------------------------------------


def test_fun_scores_the_live_model_at_each_select(nli_dir, tmp_path):
    """Each decision's recorded scores equal Eq. 1 computed independently (no controller, no fisher_scores) on
    the weights the model had at that step; the weights move between decisions, so scoring a stale copy
    (of step 0 or of any earlier decision) cannot pass."""
    import copy

    from accelerate import Accelerator
    from unfreeze_fisher import Exact

    from unfreeze_core.fisher import estimation_mode

    config = config_for(nli_dir, tmp_path, selector="fisher")
    plugins = get_plugins()
    parts = build(config, plugins)  # FUN reads the run's fisher_batches (2)
    snapshots = {}

    def progress(done, *rest):  # after `done` updates: the weights SELECT at step `done` must score
        if done % config.k == 0:
            snapshots[done] = copy.deepcopy(trainer.inner_model)

    trainer = training.Trainer(config, parts, Accelerator(cpu=True), seed=0, run_dir=tmp_path / "fun",
                               hook=plugins.hook, progress=progress)
    trainer.run()
    events = {e["step"]: e for e in json.loads((tmp_path / "fun" / "schedule.json").read_text()) if "scores" in e}
    assert sorted(events) == [0, 2, 4]

    def eq1(model, step):
        units = parts.backend.units(model)
        data = list(trainer.unfreezer.batches(2, step))
        with estimation_mode(model, units), torch.enable_grad():
            return Exact().estimate(model, units=units, unit_modules=parts.backend.unit_modules(model),
                                    task=parts.task, batches=data,
                                    generator=torch.Generator().manual_seed(0 * 7_919 + step))  # ŷ: seed·7919 + step

    for step in (2, 4):
        recorded = {int(u): s for u, s in events[step]["scores"].items()}
        assert recorded == pytest.approx(eq1(snapshots[step], step), rel=1e-5), step
    live, stale = eq1(snapshots[4], 4), eq1(snapshots[2], 4)
    assert any(abs(live[u] - stale[u]) > 1e-3 * live[u] for u in live), "the weights did not move between SELECTs"


# -- FUN's estimate at the paper's size: batches of the optimizer step (issue 17, item 4) ------------------


def test_accumulation_reads_the_same_examples_and_decides_alike(nli_dir, tmp_path, monkeypatch):
    """--batch-size 8 as one batch or as 4 accumulated micro-batches of 2: FUN's estimate reads 2 batches of 8
    examples either way (handed to the estimator as 2 or 8 micro-batches) and, on the same (initial) model,
    gives the same scores and the same decision."""
    from unfreeze_fisher import Exact

    seen = []
    original = Exact.stream

    def spy(self, model, *, batches, **kwargs):
        seen[-1].append([len(b["input_ids"]) for b in batches])
        return original(self, model, batches=batches, **kwargs)

    monkeypatch.setattr(Exact, "stream", spy)
    events = {}
    for accum in (1, 4):
        seen.append([])
        _, run = train(config_for(nli_dir, tmp_path, selector="fisher", grad_accum=accum), tmp_path / f"accum{accum}")
        events[accum] = json.loads((run / "schedule.json").read_text())
    assert seen[0][0] == [8, 8] and seen[1][0] == [2] * 8
    one, four = events[1][0], events[4][0]  # step 0: both runs score the same initial weights
    assert one["step"] == four["step"] == 0
    assert one["examples"] == four["examples"] == 16 and one["batches"] == four["batches"] == 2
    assert one["units"] == four["units"]
    assert {u: s for u, s in four["scores"].items()} == pytest.approx(one["scores"], rel=1e-5)
    assert all(e["examples"] == 16 for runs in events.values() for e in runs if "scores" in e)


def test_two_processes_read_the_same_examples_and_decide_alike(ddp_suite):
    """--batch-size 8 on one process or split 4 + 4 over two: each FUN estimate reads 2 batches of 8 examples
    (on the main process), and on the same initial model the first decision and its scores are the same."""
    one = ddp_suite.records("fun", processes=1)[0]["events"]  # tests/ddp_suite.py, rank 0's record
    two = ddp_suite.records("fun", processes=2)[0]["events"]
    assert one[0]["step"] == two[0]["step"] == 0
    assert one[0]["examples"] == two[0]["examples"] == 16 and one[0]["units"] == two[0]["units"]
    assert two[0]["scores"] == pytest.approx(one[0]["scores"], rel=1e-5)
    assert all(e["examples"] == 16 for e in one + two if "scores" in e)


def test_every_estimator_is_the_same_on_one_and_two_processes(ddp_suite):
    """The same launch's records (tests/ddp_suite.py ``fun``, rank 0): tr(F) of the same built model by exact,
    batch and official, estimated as the controller does on one process (micro-batches of 8) and on two
    (micro-batches of 4): the same values (planted: normalising per micro-batch makes batch and official differ)."""
    one = ddp_suite.records("fun", processes=1)[0]["estimates"]
    two = ddp_suite.records("fun", processes=2)[0]["estimates"]
    assert set(one) == set(two) >= {"exact", "batch", "official"}
    for name in one:
        assert {int(u): s for u, s in two[name].items()} == pytest.approx(
            {int(u): s for u, s in one[name].items()}, rel=1e-5), name
