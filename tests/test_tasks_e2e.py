"""Short end-to-end ``unfreeze run`` of every hub task on local files in its hub schema, per backend."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from task_fixtures import TEST_LANGUAGES, write_task

from unfreeze_cli.main import cli

CASES = [
    ("xnli", "madx", "tiny"), ("xnli", "mdeberta-lora", "tiny-deberta"),
    ("xcopa", "lora", "tiny-bert"), ("xcopa", "mdeberta", "tiny-deberta"),
    ("xquad", "madx", "tiny-bert"), ("xquad", "mdeberta", "tiny-deberta"),
    ("mlqa", "lora", "tiny"), ("mlqa", "mdeberta-lora", "tiny-deberta"),
]


@pytest.mark.parametrize("task,adapter,model", CASES)
def test_run_offline(tmp_path, task, adapter, model):
    data = write_task(task, tmp_path / "data", train=24, test=6)
    args = ["run", "--task", task, "--model", model, "--adapter", adapter, "--data-dir", str(data),
            "--selector", "topdown", "--k", "1", "--steps", "4", "--lr", "1e-3", "--batch-size", "4",
            "--output-dir", str(tmp_path / "runs")]
    if adapter in ("madx", "mdeberta"):
        args += ["-o", "lang_adapters=fresh"]
    if task in ("xquad", "mlqa"):
        args += ["-o", "task.max_length=64", "-o", "task.doc_stride=16"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "runs").rglob("results.json")
    results = json.loads(path.read_text())
    assert list(results["scores"]) == list(TEST_LANGUAGES[task])
    if task in ("xquad", "mlqa"):
        assert results["metric"] == "f1"
        assert all(set(m) == {"f1", "exact_match"} for m in results["all_metrics"].values())
        assert all(0 <= m["exact_match"] <= m["f1"] + 1e-9 <= 100 + 1e-9 for m in results["all_metrics"].values())
    else:
        assert results["metric"] == "accuracy"
        assert all(0 <= s <= 1 for s in results["scores"].values())
    assert (path.parent / "task_adapter").is_dir()


def test_languages_narrowed_and_unknown(tmp_path):
    data = write_task("xnli", tmp_path / "data", train=8, test=4)
    runner = CliRunner()
    bad = runner.invoke(cli, ["run", "--task", "xnli", "--model", "tiny", "--adapter", "lora", "--data-dir", str(data),
                              "--languages", "en,ta", "--steps", "1", "--lr", "1e-3", "--output-dir", str(tmp_path / "runs")])
    assert bad.exit_code != 0
    (error,) = [line for line in bad.output.splitlines() if line.startswith("Error:")]
    assert "unknown language 'ta'" in error and "available: ar, en, zh" in error
