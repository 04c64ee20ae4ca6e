"""Task sources: hub specs (repos, configs, splits, pinned revisions), local folders, one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from task_fixtures import copa_records, squad_records, write_jsonl, xnli_records

from unfreeze_core.api import TaskOptions
from unfreeze_core.errors import UnfreezeError
from unfreeze_core.tasks import hub
from unfreeze_core.tasks.classification import XNLI
from unfreeze_core.tasks.multiple_choice import XCOPA
from unfreeze_core.tasks.qa import MLQA, XQuAD, QAOptions


def test_hub_specs_follow_the_real_schemas():
    s = hub.xnli("en", "train")
    assert (s.repo, s.config, s.split) == ("nyu-mll/multi_nli", None, "train") and s.transform
    s = hub.xnli("sw", "test")
    assert (s.repo, s.config, s.split) == ("facebook/xnli", "sw", "test")
    s = hub.xcopa("qu", "test")
    assert (s.repo, s.config, s.split) == ("cambridgeltl/xcopa", "qu", "test")
    assert (hub.xcopa("en", "train").repo, hub.xcopa("en", "train").config) == ("aps/super_glue", "copa")
    assert hub.xcopa("en", "test").split == "validation"  # SuperGLUE's COPA test labels are hidden
    s = hub.xquad("th", "test")
    assert (s.repo, s.config, s.split) == ("google/xquad", "xquad.th", "validation")
    s = hub.mlqa("hi", "test")
    assert (s.repo, s.config, s.split) == ("facebook/mlqa", "mlqa.hi.hi", "test")
    assert (hub.mlqa("en", "train").repo, hub.mlqa("en", "train").config) == ("rajpurkar/squad", "plain_text")


def documented_revisions() -> tuple[dict[str, str], list[str]]:
    """docs/tasks.md's table of pinned revisions (repo -> sha) and its list of unpinned repos."""
    text = (Path(__file__).parents[1] / "docs" / "tasks.md").read_text(encoding="utf-8")
    pinned_part = text.split("## Pinned revisions", 1)[1].split("### Unpinned", 1)[0]
    unpinned_part = text.split("### Unpinned", 1)[1].split("\n## ", 1)[0]
    pinned = dict(re.findall(r"^\| `([\w.-]+/[\w.-]+)` \| `([0-9a-f]{40})` \|", pinned_part, re.M))
    unpinned = re.findall(r"^- `([\w.-]+/[\w.-]+)`", unpinned_part, re.M)
    return pinned, unpinned


def test_every_hub_revision_is_a_commit_or_listed_unpinned(monkeypatch):
    pinned, unpinned = documented_revisions()
    assert unpinned == list(hub.UNPINNED)
    for repo, rev in hub.REVISIONS.items():
        if repo in unpinned:
            assert rev == "main", f"{repo} is listed as unpinned in docs/tasks.md but pinned to {rev}"
        else:
            assert re.fullmatch(r"[0-9a-f]{40}", rev), f"{repo} is at {rev!r}: not a commit, and not listed unpinned"
            assert pinned.get(repo) == rev, f"docs/tasks.md shows {pinned.get(repo)} for {repo}, the code {rev}"
        assert hub.revision(repo) == rev
    assert set(pinned) | set(unpinned) == set(hub.REVISIONS)
    monkeypatch.setenv("UNFREEZE_HUB_REVISION_GOOGLE_XQUAD", "abc")
    assert hub.xquad("de", "test").revision == "abc"


def test_languages_from_notes():
    assert XNLI().languages() == list(hub.LANGUAGES["xnli"])
    assert XCOPA(TaskOptions(languages=["ta", "qu"])).languages() == ["ta", "qu"]
    assert MLQA(QAOptions()).languages() == ["en", "ar", "de", "es", "hi", "vi", "zh"]
    assert XQuAD(QAOptions(languages=["th", "en"])).languages() == ["en", "th"]
    with pytest.raises(UnfreezeError, match="unknown language 'el'.*available: en, ar, de, es, hi, vi, zh"):
        MLQA(QAOptions(languages=["el"])).languages()


def test_mnli_unlabelled_pairs_are_dropped():
    import datasets

    data = datasets.Dataset.from_list([{"premise": "a", "hypothesis": "b", "label": y} for y in (0, -1, 2)])
    assert hub.xnli("en", "train").transform(data)["label"] == [0, 2]


def test_offline_hub_error_is_one_line(monkeypatch):
    import datasets

    seen = {}

    def offline(repo, config=None, split=None, revision=None):
        seen.update(repo=repo, config=config, split=split, revision=revision)
        raise ConnectionError("Couldn't reach 'facebook/xnli' on the Hub (LocalEntryNotFoundError)\nmore")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(UnfreezeError) as err:
        XNLI(TaskOptions(languages=["sw"])).load("sw", "test")
    assert seen == {"repo": "facebook/xnli", "config": "sw", "split": "test",
                    "revision": hub.REVISIONS["facebook/xnli"]}
    assert "facebook/xnli" in str(err.value) and "--data-dir" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("cls,records,column", [
    (XNLI, xnli_records("zh", 3, 0), "hypothesis"),
    (XCOPA, copa_records("th", 3, 0), "question"),
    (MLQA, squad_records("ar", 3, 0, title=False), "answers"),
])
def test_missing_column_names_it(tmp_path, cls, records, column):
    lang = {XNLI: "zh", XCOPA: "th", MLQA: "ar"}[cls]
    write_jsonl(tmp_path / lang / "test.jsonl", [{k: v for k, v in r.items() if k != column} for r in records])
    options = QAOptions(data_dir=str(tmp_path)) if cls is MLQA else TaskOptions(data_dir=str(tmp_path))
    with pytest.raises(UnfreezeError, match=f"{lang}/test: missing column '{column}'"):
        cls(options).load(lang, "test")


def test_empty_split_and_missing_file(tmp_path):
    (tmp_path / "el").mkdir()
    (tmp_path / "el" / "test.parquet").write_bytes(b"")
    write_jsonl(tmp_path / "en" / "test.jsonl", squad_records("en", 2, 0))
    import datasets

    datasets.Dataset.from_list(squad_records("el", 2, 0)).select([]).to_parquet(str(tmp_path / "el" / "test.parquet"))
    task = XQuAD(QAOptions(data_dir=str(tmp_path)))
    with pytest.raises(UnfreezeError, match=r"el/test: .*el/test\.parquet has no rows"):
        task.load("el", "test")
    with pytest.raises(UnfreezeError, match="no train data for language 'en'"):
        task.load("en", "train")


def test_bad_labels_and_questions(tmp_path):
    from unfreeze_core.models import byte_tokenizer

    bad = copa_records("en", 2, 0)
    bad[1]["question"] = "why"
    write_jsonl(tmp_path / "en" / "train.jsonl", bad)
    with pytest.raises(UnfreezeError, match="en/train: row 1: question 'why' is not one of cause, effect"):
        XCOPA(TaskOptions(data_dir=str(tmp_path))).train_dataset(byte_tokenizer())
