"""A run's identity is what made its numbers (issue 28, item 1): resolved defaults, versions, data and model
hashes; settings no plugin uses left out; two runs of one identity and seed with different scores never
averaged or dropped in silence."""

import json
import os
import shutil
from dataclasses import dataclass

import pytest

from unfreeze_core.components import build
from unfreeze_core.config import RunConfig
from unfreeze_core.errors import UnfreezeError
from unfreeze_core.identity import fingerprint, run_identity
from unfreeze_core.results import summarise
from unfreeze_report.results import aggregate, load_results


def identity(pairs=(), **settings):
    config = RunConfig(**{"task": "nli", "model": "world", "adapter": "lora", "selector": "topdown", "k": 10,
                          **settings})
    parts = build(config, option_pairs=list(pairs))
    return run_identity(parts.config, parts)


def test_an_option_given_at_its_default_is_the_same_run_as_none():
    assert identity([("adapter", "r", "8")]) == identity()
    assert identity([("adapter", "r", "16")]) != identity()


def test_the_identity_holds_every_resolved_option_versions_data_and_model():
    found = identity(selector="fisher")
    assert found["adapter.alpha"] == 8 and found["selector.top_first"] is False and found["fisher.labels"] == "sample"
    assert found["version.lora"] and found["version.selectors"] and found["version.fisher"] and found["version.unfreeze"]
    assert len(found["data.sha256"]) == 16 and len(found["model.manifest"]) == 16
    assert "selector.min_batches" not in found  # FUN reads it only when stop_z > 0
    assert "selector.min_batches" in identity([("selector", "stop_z", "3")], selector="fisher")
    assert not {"output_dir", "threads", "log_every", "checkpoint_every", "seeds"} & set(found)


def test_settings_a_selector_does_not_use_are_not_its_identity():
    """standard uses neither k nor the Fisher settings: a grid varying them does not split it."""
    assert identity(selector="standard", k=10) == identity(selector="standard", k=50, fisher="batch",
                                                          fisher_batches=7)
    assert "k" not in identity(selector="standard") and "fisher_batches" not in identity(selector="standard")
    assert identity(selector="topdown", k=10) != identity(selector="topdown", k=50)
    assert "fisher_batches" not in identity(selector="topdown")  # GU does not score units
    assert identity(selector="fisher", fisher_batches=7) != identity(selector="fisher")
    assert identity(selector="topdown", fisher_every=5, fisher_batches=7) != identity(selector="topdown",
                                                                                      fisher_every=5)


def test_an_option_default_changed_between_seeds_is_another_run(monkeypatch):
    """LoRA's alpha default 8 then 32: two identities, so two rows, never one averaging both (planted: an
    identity of the given options only makes them one)."""
    from unfreeze_lora import LoRA

    before = identity()

    @dataclass
    class Options32(LoRA.Options):
        alpha: int = 32

    monkeypatch.setattr(LoRA, "Options", Options32)
    after = identity()
    assert after["adapter.alpha"] == 32 and before["adapter.alpha"] == 8
    assert fingerprint(after) != fingerprint(before)


def test_a_world_built_anew_is_another_run(tmp_path, monkeypatch):
    """The same settings on another build of the world (its manifest, then its data): another identity."""
    from unfreeze_core import world

    shipped = identity()
    copy = tmp_path / "artifacts"
    shutil.copytree(world.artifacts_dir(), copy)
    monkeypatch.setattr(world, "artifacts_dir", lambda: copy)
    assert identity() == shipped  # the same files: the same run
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["task_versions"]["nli"] += 1
    (copy / "manifest.json").write_text(json.dumps(manifest))
    rebuilt = identity()
    assert rebuilt["model.manifest"] != shipped["model.manifest"] and fingerprint(rebuilt) != fingerprint(shipped)
    train = copy / "data" / "nli" / "en" / "train.jsonl"
    lines = train.read_text().splitlines(keepends=True)
    train.write_text("".join(lines[1:]))
    assert identity()["data.sha256"] != shipped["data.sha256"]


# -- report: one identity and seed, different scores ----------------------------------------------------------


class Task:
    metric, train_language = "accuracy", "en"


def write(folder, settings, seed, scores, finished):
    """A results.json as unfreeze run writes it, written at ``finished`` (its file time)."""
    import calendar
    import time

    folder.mkdir(parents=True)
    result = summarise({"task": "nli", "model": "world", "adapter": "lora", "selector": "topdown"}, seed, Task(),
                       {lang: {"accuracy": s} for lang, s in scores.items()}, identity=settings)
    (folder / "results.json").write_text(json.dumps(result))
    when = calendar.timegm(time.strptime(finished, "%Y-%m-%dT%H:%M:%SZ"))
    os.utime(folder / "results.json", (when, when))


def test_two_runs_of_one_identity_and_seed_with_different_scores_are_refused_naming_both(tmp_path):
    settings = identity()
    write(tmp_path / "a" / "seed1", settings, 1, {"en": 0.8, "qc": 0.5}, "2026-01-01T00:00:00Z")
    write(tmp_path / "b" / "seed1", settings, 1, {"en": 0.7, "qc": 0.4}, "2026-02-01T00:00:00Z")
    with pytest.raises(UnfreezeError) as refused:
        load_results([tmp_path])
    message = str(refused.value)
    assert "different scores" in message
    assert message.index(str(tmp_path / "b" / "seed1")) < message.index(str(tmp_path / "a" / "seed1"))  # newest first
    notes = []
    kept = load_results([tmp_path], notes=notes, keep_newest=True)
    assert [r["folder"] for r in kept] == [str(tmp_path / "b" / "seed1")] and "left out" in notes[0]


def test_the_same_run_twice_with_the_same_scores_counts_once_and_other_identities_stay_apart(tmp_path):
    same = identity()
    write(tmp_path / "a" / "seed1", same, 1, {"en": 0.8, "qc": 0.5}, "2026-01-01T00:00:00Z")
    write(tmp_path / "copy" / "seed1", same, 1, {"en": 0.8, "qc": 0.5}, "2026-01-02T00:00:00Z")
    write(tmp_path / "a" / "seed2", same, 2, {"en": 0.6, "qc": 0.3}, "2026-01-01T00:00:00Z")
    write(tmp_path / "other" / "seed2", {**same, "adapter.alpha": 32}, 2, {"en": 0.1, "qc": 0.1}, "2026-01-01T00:00:00Z")
    notes = []
    rows = aggregate(load_results([tmp_path], notes=notes))
    assert len(notes) == 1 and "counted once" in notes[0]
    assert sorted(r["seeds"] for r in rows) == [[1, 2], [2]]


def test_an_older_results_json_keeps_working(tmp_path):
    """Written before identities: settings of the given options only, no finished time."""
    folder = tmp_path / "old" / "seed1"
    folder.mkdir(parents=True)
    old = {"task": "nli", "model": "world", "adapter": "lora", "selector": "standard", "seed": 1,
           "metric": "accuracy", "train_language": "en", "scores": {"en": 0.8, "qc": 0.5}, "avg_xling": 0.5,
           "lowest": {"lang": "qc", "score": 0.5},
           "settings": {"task": "nli", "model": "world", "adapter": "lora", "selector": "standard", "k": 50,
                        "fisher": "exact", "fisher_batches": 40}, "fingerprint": "x"}
    (folder / "results.json").write_text(json.dumps(old))
    (rows,) = aggregate(load_results([tmp_path]))
    assert rows["seeds"] == [1] and "k" not in rows["settings"] and "fisher_batches" not in rows["settings"]


def test_a_plot_names_only_settings_a_line_has():
    from unfreeze_report.plots import _label

    assert _label("topdown", {"k": 10}, ["selector.stop_z", "k"]) == "topdown [k=10]"
    assert _label("fisher", {"selector.stop_z": 3.0}, ["selector.stop_z"]) == "fisher [selector.stop_z=3]"


# -- unfreeze run --seed 2 after --seed 1: beside it ----------------------------------------------------------


def test_a_new_seed_of_the_same_identity_goes_beside_the_earlier_seeds(nli_dir, tmp_path):
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    out = tmp_path / "runs"
    base = ["run", "--model", "tiny", "--adapter", "lora", "--selector", "topdown", "--data-dir", str(nli_dir),
            "--languages", "en", "--steps", "4", "--k", "1", "--batch-size", "8", "-o", "train_limit=16",
            "-o", "eval_limit=8", "--output-dir", str(out)]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for extra in (["--seed", "1"], ["--seed", "2"], ["--seed", "1"], ["--seed", "3", "--lr", "0.01"]):
        done = CliRunner().invoke(cli, [*base, *extra])
        assert done.exit_code == 0, done.output
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/seed*")) == [
        "nli-lora-topdown-2/seed1", "nli-lora-topdown-3/seed3", "nli-lora-topdown/seed1", "nli-lora-topdown/seed2"]
