"""FUN and tr(F) tracking inside real (tiny) runs: estimation never disturbs training."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

import unfreeze_core.training as training  # noqa: E402
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
    from accelerate import Accelerator

    plugins = get_plugins()
    parts = build(config, plugins, list(option_pairs))  # FUN reads the run's fisher_batches (2)
    trainer = training.Trainer(config, parts, Accelerator(cpu=True), seed=0, run_dir=run_dir, hook=plugins.hook)
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


class Streaming:
    """Per-example values where unit 1 leads unit 0 by far: sequential stopping would stop at once."""

    def stream(self, model, *, units, unit_modules, task, batches, generator=None):
        for _ in batches:
            yield {0: torch.full((4,), 1.0) + torch.rand(4) * 0.01, 1: torch.full((4,), 5.0) + torch.rand(4) * 0.01}

    def estimate(self, model, **kwargs):
        values = list(self.stream(model, **kwargs))
        return {u: float(torch.cat([v[u] for v in values]).mean()) for u in (0, 1)}


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


def test_a_small_training_set_is_used_once_and_the_record_says_so(nli_dir, tmp_path, caplog):
    config = config_for(nli_dir, tmp_path, selector="fisher", fisher_every=4, fisher_batches=5)
    config.options["task"]["train_limit"] = 16  # two batches of 8
    with caplog.at_level("WARNING", logger="unfreeze"):
        _, run = train(config, tmp_path / "small")
    events = json.loads((run / "schedule.json").read_text())
    scored = [e for e in events if "scores" in e]
    assert scored and all(e["batches"] == 2 and e["train_examples"] == 16 for e in scored)
    tracked = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if "fisher" in line]
    assert tracked and all(r["batches"] == 2 and r["train_examples"] == 16 for r in tracked)
    warnings = [r.getMessage() for r in caplog.records if "each estimate uses every example once" in r.getMessage()]
    assert len(warnings) == 1 and "16 examples" in warnings[0]


def test_fun_events_record_the_batches_read(nli_dir, tmp_path):
    _, run = train(config_for(nli_dir, tmp_path, selector="fisher", fisher_batches=3), tmp_path / "fun")
    scored = [e for e in json.loads((run / "schedule.json").read_text()) if "scores" in e]
    assert scored and all(e["batches"] == 3 and "train_examples" not in e for e in scored)
