"""Where each task's data lives on the Hugging Face hub: parquet repos, configs, splits, pinned revisions.

``datasets`` 4+ runs no loading scripts, so every source is a parquet repo. Revisions are pinned here,
in one place, to a commit sha found in a public source (docs/tasks.md names where); a repo for which none
was found stays at ``main`` and is listed as unpinned in docs/tasks.md (``UNPINNED`` here). The test
``test_every_hub_revision_is_a_commit_or_listed_unpinned`` holds the two together.
``UNFREEZE_HUB_REVISION_<REPO>`` overrides a revision without a code change.
"""

from __future__ import annotations

import os

from .data import HubSplit

REVISIONS = {
    # "Convert dataset to Parquet (#10)": per-language configs, no xnli.py
    "facebook/xnli": "b8dd5d7af51114dbda02c0e3f6133f332186418e",
    # "Convert dataset to Parquet (#5)": data/train-*.parquet, no multi_nli.py
    "nyu-mll/multi_nli": "da70db2af9d09693783c3320c4249840212ee221",
    # Public code reads <lang>/test-00000-of-00001.parquet at this commit (docs/tasks.md).
    "cambridgeltl/xcopa": "042f78955ba48e6404616762fa6e05e839c3907a",
    # Public code reads multirc/train-00000-of-00001.parquet at this commit (docs/tasks.md).
    "aps/super_glue": "3de24cf8022e94f4ee4b9d55a6f539891524d646",
    # Public code loads it with load_dataset; datasets caches it as squad/plain_text/0.0.0/<sha> (parquet).
    "rajpurkar/squad": "7b6d24c440a36b6815f21b70d25016731768db1f",
    # embeddings-benchmark/mteb XQuADRetrieval; public code reads xquad.<lang>/validation-*.parquet at it.
    "google/xquad": "51adfef1c1287aab1d2d91b5bead9bcfb9c68583",
    # Unpinned: the only public sha found (397ed406, mteb) is a loading-script revision.
    "facebook/mlqa": "main",
}
UNPINNED = ("facebook/mlqa",)
"""Repos at ``main`` because no script-free commit sha was found in a public source (docs/tasks.md)."""

# Languages per task (NOTES.md), English (the train language) first.
LANGUAGES = {
    "xnli": ("en", "ar", "de", "el", "es", "hi", "ru", "sw", "th", "tr", "vi", "zh"),
    "xcopa": ("en", "et", "ht", "it", "id", "qu", "sw", "zh", "ta", "th", "tr", "vi"),
    "xquad": ("en", "ar", "de", "el", "es", "hi", "ru", "th", "tr", "vi", "zh"),
    "mlqa": ("en", "ar", "de", "es", "hi", "vi", "zh"),
}


def revision(repo: str) -> str:
    key = "UNFREEZE_HUB_REVISION_" + "".join(c if c.isalnum() else "_" for c in repo.upper())
    return os.environ.get(key) or REVISIONS[repo]


def split(repo: str, split_name: str, config: str | None = None, transform=None) -> HubSplit:
    return HubSplit(repo, split_name, config, revision(repo), transform)


def _known_labels(data):
    """MNLI marks pairs without a gold label with -1; they cannot be trained on."""
    return data.filter(lambda y: 0 <= y <= 2, input_columns="label")


def xnli(lang: str, split_name: str) -> HubSplit:
    """Train: MNLI ``train`` (English). Test: XNLI per-language config, ``test`` split."""
    if split_name == "train":
        return split("nyu-mll/multi_nli", "train", None, _known_labels)
    return split("facebook/xnli", split_name, lang)


def xcopa(lang: str, split_name: str) -> HubSplit:
    """Train: English COPA (SuperGLUE ``copa``, 400 examples). Test: XCOPA per-language ``test``.

    XCOPA has no English config; English is tested on COPA's ``validation`` split (100 examples:
    SuperGLUE's COPA test labels are hidden)."""
    if lang == "en":
        return split("aps/super_glue", "train" if split_name == "train" else "validation", "copa")
    return split("cambridgeltl/xcopa", split_name, lang)


def squad_train() -> HubSplit:
    return split("rajpurkar/squad", "train", "plain_text")


def xquad(lang: str, split_name: str) -> HubSplit:
    """Train: SQuAD v1.1 ``train``. Test: XQuAD config ``xquad.<lang>``, split ``validation`` (its only one)."""
    if split_name == "train":
        return squad_train()
    return split("google/xquad", "validation", f"xquad.{lang}")


def mlqa(lang: str, split_name: str) -> HubSplit:
    """Train: SQuAD v1.1 ``train``. Test: MLQA config ``mlqa.<lang>.<lang>`` (context and question in lang), ``test``."""
    if split_name == "train":
        return squad_train()
    return split("facebook/mlqa", split_name, f"mlqa.{lang}.{lang}")
