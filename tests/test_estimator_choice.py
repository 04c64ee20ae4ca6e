"""The resolved configuration: one estimator and one ``fisher_batches`` per run, typed provenance, the estimator
that scored recorded (a selector's own one included), frozen after resolution."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from unfreeze_core.api import Selector
from unfreeze_core.components import build, resolve, run_name
from unfreeze_core.config import RunConfig, config_yaml
from unfreeze_core.errors import UnfreezeError
from unfreeze_core.hookspecs import hookimpl
from unfreeze_core.plugins import get_plugins


def fun_config(nli_dir, tmp_path, **overrides):
    settings = dict(task="nli", model="tiny", adapter="madx", selector="fisher", batch_size=8, log_every=2, k=2,
                    steps=8, output_dir=str(tmp_path / "runs"), checkpoint_every=0, fisher_batches=2)
    config = RunConfig(**{**settings, **overrides})
    config.options["task"] = {"data_dir": str(nli_dir), "eval_limit": 8, "train_limit": 32, "languages": ["en"]}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    return config


def test_the_runs_estimator_scores_and_names_the_folder(nli_dir, tmp_path):
    parts = build(fun_config(nli_dir, tmp_path, fisher="batch"), get_plugins())
    assert type(parts.estimator).__name__ == "Batch"
    assert parts.provenance["scored_by"]["name"] == "batch" and parts.provenance["fisher"]["name"] == "batch"
    assert run_name(parts.config, parts) == "nli-madx-fisher-batch"
    topdown = build(fun_config(nli_dir, tmp_path, selector="topdown"), get_plugins())
    assert run_name(topdown.config, topdown) == "nli-madx-topdown" and "scored_by" not in topdown.provenance


def test_one_fisher_batches_in_the_resolved_configuration(nli_dir, tmp_path):
    with pytest.raises(UnfreezeError, match="unknown option 'fisher_batches'"):
        build(fun_config(nli_dir, tmp_path), get_plugins(), [("selector", "fisher_batches", "5")])
    with pytest.raises(UnfreezeError, match="unknown option 'estimator'"):
        build(fun_config(nli_dir, tmp_path), get_plugins(), [(None, "estimator", "exact")])
    written = yaml.safe_load(config_yaml(resolve(fun_config(nli_dir, tmp_path)), 1))
    assert written["fisher_batches"] == 2 and "fisher_batches" not in json.dumps(written["options"])


def test_options_are_stored_with_their_declared_types(nli_dir, tmp_path):
    config = fun_config(nli_dir, tmp_path)
    resolved = resolve(config, get_plugins(), [(None, "train_limit", "200"), (None, "stop_z", "3"),
                                               ("selector", "top_first", "true")])
    assert resolved.options["task"]["train_limit"] == 200
    assert resolved.options["selector"] == {"stop_z": 3.0, "top_first": True}
    assert config.options["task"]["train_limit"] == 32  # the given configuration is not changed


def test_a_resolved_configuration_cannot_change(nli_dir, tmp_path):
    resolved = resolve(fun_config(nli_dir, tmp_path))
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.fisher = "batch"
    with pytest.raises(TypeError):
        resolved.options["selector"]["top_first"] = True
    with pytest.raises(AttributeError):
        resolved.options["task"]["languages"].append("de")
    with pytest.raises(AttributeError):
        resolved.seeds.append(2)
    assert resolve(resolved) == resolved  # resolving again changes nothing


def test_run_config_and_sweep_cell_give_the_same_config_yaml(nli_dir, tmp_path):
    """The same setting through `unfreeze run -o`, `--config FILE` and a grid cell: one config.yaml."""
    from unfreeze_core import grid

    flags = dict(task="nli", model="tiny", selector="topdown", steps=8, k=2, batch_size=8)
    by_flags, pairs = grid.build_config(None, {**flags, "seeds": [1]}, [f"task.data_dir={nli_dir}",
                                                                          "train_limit=200", "task.languages=en"])
    from_flags = config_yaml(build(by_flags, get_plugins(), pairs).config, 1)

    file = tmp_path / "run.yaml"
    file.write_text(yaml.safe_dump({**flags, "seed": 1, "options": {"task": {
        "data_dir": str(nli_dir), "train_limit": "200", "languages": "en"}}}))
    by_file, pairs = grid.build_config(file, {}, [])
    from_file = config_yaml(build(by_file, get_plugins(), pairs).config, 1)

    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text(yaml.safe_dump({**flags, "seeds": [1], "output_dir": "runs", "options": {"task": {
        "data_dir": str(nli_dir), "languages": ["en"]}}, "axes": {"task.train_limit": [200]}}))
    (cell,) = grid.cells(grid.load_grid(grid_file), "runs")
    from_cell = yaml.safe_dump({**cell.settings, "output_dir": "runs"}, sort_keys=False)
    assert from_flags == from_file == from_cell
    assert yaml.safe_load(from_flags)["options"]["task"]["train_limit"] == 200


def test_unfreeze_run_writes_the_resolved_config_and_plugin_options(nli_dir, tmp_path):
    from unfreeze_fisher import Exact

    from unfreeze_core.runner import run_all

    config = fun_config(nli_dir, tmp_path)
    run_all(config, [("fisher", "labels", "argmax"), (None, "stop_z", "0")])
    run_dir = tmp_path / "runs" / "nli-madx-fisher-exact" / "seed1"
    recorded = json.loads((run_dir / "plugins.json").read_text())
    assert recorded["scored_by"]["name"] == "exact" and recorded["scored_by"]["options"] == {"labels": "argmax"}
    assert recorded["selector"]["options"] == {"top_first": False, "stop_z": 0.0, "min_batches": 5}
    written = (run_dir / "config.yaml").read_text()
    assert yaml.safe_load(written)["options"]["fisher"] == {"labels": "argmax"}
    assert yaml.safe_load(written)["options"]["selector"] == {"stop_z": 0.0}
    assert Exact  # the estimator plugin is installed


class OwnEstimatorSelector(Selector):
    """A third party's selector that scores with an estimator object of its own."""

    scores_with_fisher = True

    def own_estimator(self):
        from unfreeze_fisher import Batch

        return Batch(Batch.Options())

    def select(self, ctx):
        scores = ctx.fisher()
        return [max(ctx.frozen, key=lambda u: scores[u])]


class OwnEstimatorPlugin:
    @hookimpl
    def register_selectors(self, register):
        register("own-scorer", OwnEstimatorSelector)


@pytest.fixture
def own_scorer():
    plugins = get_plugins()
    plugins.register(OwnEstimatorPlugin(), name="own-scorer-plugin")
    yield plugins
    plugins.unregister("own-scorer-plugin")


def test_a_selectors_own_estimator_is_the_one_recorded(nli_dir, tmp_path, own_scorer, monkeypatch):
    from unfreeze_fisher import Batch

    from unfreeze_core.runner import run_all

    used = []
    original = Batch.estimate
    monkeypatch.setattr(Batch, "estimate", lambda self, *a, **kw: used.append(self) or original(self, *a, **kw))
    config = fun_config(nli_dir, tmp_path, selector="own-scorer")
    run_all(config)
    run_dir = tmp_path / "runs" / "nli-madx-own-scorer-Batch" / "seed1"
    recorded = json.loads((run_dir / "plugins.json").read_text())
    assert recorded["fisher"]["name"] == "exact"  # the run's --fisher, which did not score
    assert recorded["scored_by"]["class"] == "unfreeze_fisher.Batch" or recorded["scored_by"]["name"] == "Batch"
    assert recorded["scored_by"]["plugin"] == "own-scorer-plugin" and used
