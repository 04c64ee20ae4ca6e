"""bench/run_cost.py: the cost model counts every preset cell (+Rand included) on the presets' languages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_cost():
    spec = importlib.util.spec_from_file_location("run_cost", ROOT / "bench" / "run_cost.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table1_counts_every_cell_of_the_presets(run_cost, capsys):
    count, hours = run_cost.main([])
    out = capsys.readouterr().out
    assert count == 128  # 4 tasks x 2 models x (standard, GU, FUN, +Rand) x 4 seeds
    assert "| xnli | XLM-R | madx | random | 4 |" in out and "128 cells" in out
    assert 150 < hours < 220  # ~184 GPU-hours at the H200 reference step times


def test_evaluation_follows_the_presets_languages(run_cost):
    class Args:
        all_ms, top_ms, exact_s, eval_pairs_per_s = 57.0, 27.0, 2.8, 2000.0

    cell = {"task": "xnli", "model": "xlm-roberta-base", "adapter": "madx", "selector": "standard", "k": 800,
            "steps": None, "epochs": 1, "batch_size": 128, "fisher_batches": 40,
            "options": {"task": {"languages": ["en", "de"]}}}
    two = run_cost.cell_cost(cell, Args)
    assert two["languages"] == 2 and two["eval_s"] == pytest.approx(2 * 5010 / 2000)
    cell["options"]["task"]["languages"] = ["en", "ar", "de", "el", "es", "hi", "ru", "sw", "th", "tr", "vi", "zh"]
    assert run_cost.cell_cost(cell, Args)["eval_s"] == pytest.approx(12 * 5010 / 2000)
    cell["options"]["task"]["train_limit"] = 1280  # the reduced-data presets: fewer steps
    assert run_cost.cell_cost(cell, Args)["steps"] == 10
