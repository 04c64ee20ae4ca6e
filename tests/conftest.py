"""Shared fixtures: small NLI files in the hub schema, written per test session."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

# Tiny models: one intra-op thread is faster, and far faster on a busy 2-core machine.
# Set before torch is imported so subprocesses (CLI, torchrun) inherit it too.
os.environ.setdefault("OMP_NUM_THREADS", "1")

NOUNS = {"en": ["cat", "dog", "bird", "horse"], "de": ["Katze", "Hund", "Vogel", "Pferd"],
         "el": ["γάτα", "σκύλος", "πουλί", "άλογο"]}
VERBS = {"en": ("sleeps", "does not sleep"), "de": ("schläft", "schläft nicht"), "el": ("κοιμάται", "δεν κοιμάται")}


def nli_records(lang: str, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        a, b = rng.sample(range(4), 2)
        label = rng.randrange(3)
        yes, no = VERBS[lang]
        premise = f"{NOUNS[lang][a]} {yes} ."
        hypothesis = {0: premise, 1: f"{NOUNS[lang][b]} {yes} .", 2: f"{NOUNS[lang][a]} {no} ."}[label]
        records.append({"premise": premise, "hypothesis": hypothesis, "label": label})
    return records


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


@pytest.fixture(scope="session")
def nli_dir(tmp_path_factory) -> Path:
    """``<lang>/{train,validation,test}.jsonl`` in the XNLI schema for en, de and el."""
    root = tmp_path_factory.mktemp("nli")
    write_jsonl(root / "en" / "train.jsonl", nli_records("en", 200, 0))
    write_jsonl(root / "en" / "validation.jsonl", nli_records("en", 40, 1))
    for i, lang in enumerate(NOUNS):
        write_jsonl(root / lang / "test.jsonl", nli_records(lang, 40, 10 + i))
    return root
