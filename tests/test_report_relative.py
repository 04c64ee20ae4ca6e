"""`unfreeze report --relative-to full` (Figure 2): each row as % of the full fine-tuning row of its task and
model, recomputed here by hand from the results.json files."""

from __future__ import annotations

import json

from click.testing import CliRunner

from unfreeze_cli.main import cli

# (task, model, adapter, selector) -> {seed: {lang: score}}; en is the train language
RUNS = {
    ("nli", "xlmr", "full", "standard"): {1: {"en": 0.80, "de": 0.70, "el": 0.60}, 2: {"en": 0.82, "de": 0.72, "el": 0.66}},
    ("nli", "xlmr", "madx", "standard"): {1: {"en": 0.75, "de": 0.60, "el": 0.58}, 2: {"en": 0.77, "de": 0.64, "el": 0.54}},
    ("nli", "xlmr", "madx", "topdown"): {1: {"en": 0.76, "de": 0.69, "el": 0.65}, 2: {"en": 0.78, "de": 0.67, "el": 0.63}},
    ("nli", "mbert", "full", "standard"): {1: {"en": 0.70, "de": 0.50, "el": 0.40}},
    ("nli", "mbert", "madx", "lpft"): {1: {"en": 0.68, "de": 0.45, "el": 0.41}},
    ("qa", "xlmr", "madx", "standard"): {1: {"en": 80.0, "de": 60.0, "el": 50.0}},  # no full row: no %
}


def write_runs(root):
    for (task, model, adapter, selector), seeds in RUNS.items():
        for seed, scores in seeds.items():
            folder = root / f"{task}-{model}-{adapter}-{selector}" / f"seed{seed}"
            folder.mkdir(parents=True)
            targets = {k: v for k, v in scores.items() if k != "en"}
            low = min(targets, key=targets.get)
            result = {"task": task, "model": model, "adapter": adapter, "selector": selector, "seed": seed,
                      "metric": "f1" if task == "qa" else "accuracy", "train_language": "en", "scores": scores,
                      "avg_xling": sum(targets.values()) / len(targets), "lowest": {"lang": low, "score": targets[low]},
                      "settings": {"task": task, "model": model, "adapter": adapter, "selector": selector,
                                   "lr": 2e-5 if adapter == "full" else 1e-3}}
            (folder / "results.json").write_text(json.dumps(result))


def by_hand(task, model, adapter, selector):
    """Mean over seeds of the mean over target languages, over the same for full fine-tuning, in per cent."""
    def avg(key):
        seeds = RUNS[key]
        return sum(sum(v for k, v in s.items() if k != "en") / (len(s) - 1) for s in seeds.values()) / len(seeds)
    return 100 * avg((task, model, adapter, selector)) / avg((task, model, "full", "standard"))


def test_each_row_is_a_per_cent_of_the_full_fine_tuning_row_of_its_task_and_model(tmp_path):
    write_runs(tmp_path)
    result = CliRunner().invoke(cli, ["report", str(tmp_path), "--relative-to", "full", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {(r["task"], r["model"], r["adapter"], r["selector"]): r for r in json.loads(result.output)}
    assert rows["nli", "xlmr", "full", "standard"]["percent"] == 100.0
    for key in [("nli", "xlmr", "madx", "standard"), ("nli", "xlmr", "madx", "topdown"), ("nli", "mbert", "madx", "lpft")]:
        assert abs(rows[key]["percent"] - by_hand(*key)) < 1e-9, key
    assert round(rows["nli", "xlmr", "madx", "topdown"]["percent"], 2) == 98.51  # 0.66 / 0.67, worked out on paper
    assert rows["qa", "xlmr", "madx", "standard"]["percent"] is None  # no full fine-tuning row for qa


def test_the_markdown_view_prints_the_per_cent_and_bad_requests_are_one_line(tmp_path):
    write_runs(tmp_path)
    shown = CliRunner().invoke(cli, ["report", str(tmp_path), "--relative-to", "full", "--format", "markdown"])
    assert shown.exit_code == 0, shown.output
    line = next(x for x in shown.output.splitlines() if "| topdown |" in x)
    assert line.rstrip(" |").endswith(f"{by_hand('nli', 'xlmr', 'madx', 'topdown'):.1f}")
    missing = CliRunner().invoke(cli, ["report", str(tmp_path), "--relative-to", "lora"])
    assert missing.exit_code != 0 and "no run of the 'lora' backend" in missing.output
    paper = CliRunner().invoke(cli, ["report", str(tmp_path), "--relative-to", "full", "--layout", "paper"])
    assert paper.exit_code != 0 and "leave out --layout paper" in paper.output
