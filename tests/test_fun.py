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
    pairs = list(option_pairs)
    if config.selector == "fisher" and not any(key == "fisher_batches" for _, key, _ in pairs):
        pairs.append(("selector", "fisher_batches", "2"))
    parts = build(config, plugins, pairs)
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
    config = config_for(nli_dir, tmp_path, selector="fisher")
    _, run = train(config, tmp_path / "top", [("selector", "top_first", "true"), (None, "estimator", "official")])
    events = json.loads((run / "schedule.json").read_text())
    assert events[0] == {"step": 0, "units": [3]}
    assert all("scores" in e for e in events[1:-1])


def test_fun_rejects_an_unknown_estimator(nli_dir, tmp_path):
    from unfreeze_core.errors import UnfreezeError

    with pytest.raises(UnfreezeError, match="nope"):
        train(config_for(nli_dir, tmp_path, selector="fisher"), tmp_path / "x", [(None, "estimator", "nope")])
