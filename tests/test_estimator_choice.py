"""A selector's ``estimator`` option: it is the run's estimator, takes ``-o fisher.KEY=V``, is recorded, names the folder."""

from __future__ import annotations

import json

import pytest

from unfreeze_core.components import build, run_name
from unfreeze_core.config import RunConfig
from unfreeze_core.errors import UnfreezeError
from unfreeze_core.plugins import get_plugins


def fun_config(nli_dir, tmp_path, **overrides):
    settings = dict(task="nli", model="tiny", adapter="madx", selector="fisher", batch_size=8, log_every=2, k=2,
                    steps=8, output_dir=str(tmp_path / "runs"), checkpoint_every=0)
    config = RunConfig(**{**settings, **overrides})
    config.options["task"] = {"data_dir": str(nli_dir), "eval_limit": 8, "train_limit": 32, "languages": ["en"]}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    return config


def test_the_named_estimator_becomes_the_runs_and_takes_its_options(nli_dir, tmp_path):
    config = fun_config(nli_dir, tmp_path)
    parts = build(config, get_plugins(), [(None, "estimator", "exact"), (None, "labels", "argmax")])
    assert type(parts.estimator).__name__ == "Exact" and parts.estimator.options.labels == "argmax"
    config = fun_config(nli_dir, tmp_path)
    parts = build(config, get_plugins(), [("selector", "estimator", "batch")])
    assert config.fisher == "batch" and type(parts.estimator).__name__ == "Batch"
    assert parts.provenance["fisher"]["name"] == "batch"
    assert run_name(config, parts) == "nli-madx-fisher-batch"
    topdown = fun_config(nli_dir, tmp_path, selector="topdown")
    assert run_name(topdown, build(topdown, get_plugins())) == "nli-madx-topdown"  # no estimator in its name


def test_two_different_estimators_in_one_run_are_refused(nli_dir, tmp_path):
    with pytest.raises(UnfreezeError, match="give --fisher official"):
        build(fun_config(nli_dir, tmp_path, fisher="batch"), get_plugins(), [(None, "estimator", "official")])
    with pytest.raises(UnfreezeError, match="--fisher-every"):
        build(fun_config(nli_dir, tmp_path, fisher_every=4), get_plugins(), [(None, "estimator", "official")])


def test_fun_scores_with_the_configured_estimator_and_records_it(nli_dir, tmp_path, monkeypatch):
    from unfreeze_fisher import Exact

    from unfreeze_core.runner import run_all

    used = []
    original = Exact.stream

    def spy(self, *args, **kwargs):
        used.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Exact, "stream", spy)
    config = fun_config(nli_dir, tmp_path)
    run_all(config, [(None, "estimator", "exact"), ("fisher", "labels", "argmax"), (None, "fisher_batches", "2")])
    assert used and all(type(e).__name__ == "Exact" and e.options.labels == "argmax" for e in used)
    run_dir = tmp_path / "runs" / "nli-madx-fisher-exact" / "seed1"
    assert json.loads((run_dir / "plugins.json").read_text())["fisher"]["name"] == "exact"
