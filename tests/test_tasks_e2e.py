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


WORLD_LANGUAGES = ["en", "qa", "qc", "qd", "qg", "qk"]


@pytest.mark.parametrize("task,metric", [("nli", "accuracy"), ("copa", "accuracy"), ("qa", "f1")])
def test_world_task_runs_with_defaults(tmp_path, task, metric):
    """Every world task through `unfreeze run` with its defaults (the world model, madx, its max length)
    and only a short budget; QA's default max length (384) used to exceed the world encoder's 256 tokens."""
    result = CliRunner().invoke(cli, ["run", "--task", task, "--steps", "2", "--output-dir", str(tmp_path)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.rglob("results.json")
    results = json.loads(path.read_text())
    assert (results["model"], results["adapter"], results["metric"]) == ("world", "madx", metric)
    assert sorted(results["scores"]) == WORLD_LANGUAGES


def test_max_length_capped_at_model_positions():
    from unfreeze_core.models import load_model, position_limit, tiny_config, byte_tokenizer
    from unfreeze_core.tasks.base import sequence_length
    from unfreeze_core.tasks.qa import QA

    model, tokenizer = load_model("world")
    assert model.config.max_position_embeddings == 258 and tokenizer.model_max_length == 256
    assert QA(QA.Options()).windows(tokenizer) == (256, 128)  # SQuAD's 384 would overflow the positions
    assert QA(QA.Options(max_length=200, doc_stride=150)).windows(tokenizer) == (200, 100)
    assert sequence_length(128, tokenizer) == 128
    tok = byte_tokenizer()
    assert position_limit(tiny_config("tiny", tok)) == 520 - tok.pad_token_id - 1  # RoBERTa offsets positions
    assert position_limit(tiny_config("tiny-bert", tok)) == 520
    assert position_limit(tiny_config("tiny-deberta", tok)) is None  # relative positions only
    _, capped = load_model("tiny")
    assert capped.model_max_length == 518


def test_qa_batches_cut_to_longest_window():
    """QA features are padded to the max length; a batch is cut to its longest window, so the world's short
    stories cost no padding, and the cut drops only padding."""
    from unfreeze_core.models import load_model
    from unfreeze_core.tasks.qa import QA

    _, tokenizer = load_model("world")
    task = QA(QA.Options(train_limit=8))
    rows = task.train_dataset(tokenizer)
    assert {len(r["input_ids"]) for r in rows} == {256}
    batch = task.collate(tokenizer)(rows)
    longest = max(sum(r["attention_mask"]) for r in rows)
    assert batch["input_ids"].shape == (8, longest) and longest < 256
    assert all(r["input_ids"][longest:] == [tokenizer.pad_token_id] * (256 - longest) for r in rows)
    assert batch["start_positions"].tolist() == [r["start_positions"] for r in rows]
