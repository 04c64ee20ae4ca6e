"""unfreeze report: many results.json -> mean ± std over seeds per language, avg without En, lowest."""

import json

import pytest
from click.testing import CliRunner

from unfreeze_cli.main import cli


def write(root, selector, seed, scores):
    run = root / f"nli-madx-{selector}" / f"seed{seed}"
    run.mkdir(parents=True)
    xling = {k: v for k, v in scores.items() if k != "en"}
    low = min(xling, key=xling.get)
    run.joinpath("results.json").write_text(json.dumps({
        "task": "nli", "model": "world", "adapter": "madx", "selector": selector, "seed": seed, "metric": "accuracy",
        "scores": scores, "avg_xling": sum(xling.values()) / len(xling), "lowest": {"lang": low, "score": xling[low]}}))


@pytest.fixture
def runs(tmp_path):
    write(tmp_path, "standard", 1, {"en": 0.70, "de": 0.60, "el": 0.50})
    write(tmp_path, "standard", 2, {"en": 0.72, "de": 0.64, "el": 0.54})
    write(tmp_path, "topdown", 1, {"en": 0.69, "de": 0.66, "el": 0.62})
    return tmp_path


def test_json_rows_hold_mean_and_std_over_seeds(runs):
    result = CliRunner().invoke(cli, ["report", str(runs), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["selector"]: r for r in json.loads(result.output)}
    standard = rows["standard"]
    assert standard["seeds"] == [1, 2]
    assert standard["scores"]["en"] == pytest.approx([0.71, 0.0141421356], rel=1e-6)
    assert standard["avg_xling"][0] == pytest.approx((0.55 + 0.59) / 2)
    assert standard["lowest"][0] == pytest.approx(0.52)
    assert rows["topdown"]["scores"]["de"] == [0.66, 0.0]


def test_markdown_and_latex_tables_for_a_paper(runs):
    md = CliRunner().invoke(cli, ["report", str(runs), "--format", "markdown"]).output
    assert "| model | adapter | selector | seeds | en | de | el | avg (no en) | lowest |" in md
    assert "| world | madx | standard | 2 | 71.0 ± 1.4 | 62.0 ± 2.8 | 52.0 ± 2.8 | 57.0 ± 2.8 | 52.0 ± 2.8 |" in md
    latex = CliRunner().invoke(cli, ["report", str(runs), "--format", "latex"]).output
    assert "\\begin{tabular}{lllrrrrrr}" in latex and "71.0 $\\pm$ 1.4" in latex and "\\bottomrule" in latex


def test_no_results_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "no results.json" in result.output
