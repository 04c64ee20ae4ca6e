"""Small task files in each hub schema (XNLI, COPA/XCOPA, SQuAD/XQuAD/MLQA), non-Latin scripts included.

Written by the tests into ``<root>/<lang>/<split>.jsonl``, the layout of ``--data-dir``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# Parallel tiny lexicons: subject nouns and a pair of predicates (yes, no).
NOUNS = {
    "en": ["cat", "dog", "bird", "horse"],
    "ar": ["القط", "الكلب", "الطائر", "الحصان"],
    "zh": ["猫", "狗", "鸟", "马"],
    "el": ["γάτα", "σκύλος", "πουλί", "άλογο"],
    "th": ["แมว", "หมา", "นก", "ม้า"],
}
VERBS = {"en": ("sleeps", "does not sleep"), "ar": ("ينام", "لا ينام"), "zh": ("睡觉", "不睡觉"),
         "el": ("κοιμάται", "δεν κοιμάται"), "th": ("นอน", "ไม่นอน")}
QUESTION = {"en": "Who sleeps?", "ar": "من ينام؟", "zh": "谁睡觉？", "el": "Ποιος κοιμάται;", "th": "ใครนอน"}


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def xnli_records(lang: str, n: int, seed: int) -> list[dict]:
    """facebook/xnli per-language config (and nyu-mll/multi_nli's used columns): premise, hypothesis, label."""
    rng = random.Random(seed)
    yes, no = VERBS[lang]
    out = []
    for _ in range(n):
        a, b = rng.sample(range(4), 2)
        label = rng.randrange(3)
        premise = f"{NOUNS[lang][a]} {yes}"
        hypothesis = {0: premise, 1: f"{NOUNS[lang][b]} {yes}", 2: f"{NOUNS[lang][a]} {no}"}[label]
        out.append({"premise": premise, "hypothesis": hypothesis, "label": label})
    return out


def copa_records(lang: str, n: int, seed: int) -> list[dict]:
    """cambridgeltl/xcopa (and super_glue copa): premise, choice1, choice2, question, label, idx."""
    rng = random.Random(seed)
    yes, no = VERBS[lang]
    out = []
    for i in range(n):
        a, b = rng.sample(range(4), 2)
        label = rng.randrange(2)
        question = ("cause", "effect")[i % 2]
        right, wrong = f"{NOUNS[lang][a]} {yes}", f"{NOUNS[lang][b]} {no}"
        choices = (right, wrong) if label == 0 else (wrong, right)
        out.append({"premise": f"{NOUNS[lang][a]}", "choice1": choices[0], "choice2": choices[1],
                    "question": question, "label": label, "idx": i})
    return out


def squad_records(lang: str, n: int, seed: int, title: bool = True) -> list[dict]:
    """rajpurkar/squad and google/xquad: id, (title,) context, question, answers {text, answer_start}.
    MLQA has no title column (``title=False``)."""
    rng = random.Random(seed)
    yes, no = VERBS[lang]
    sep = "" if lang in ("zh", "th") else " "
    out = []
    for i in range(n):
        order = rng.sample(range(4), 3)
        sleeper = order[0]
        sentences = [f"{NOUNS[lang][sleeper]}{sep}{yes}"] + [f"{NOUNS[lang][k]}{sep}{no}" for k in order[1:]]
        rng.shuffle(sentences)
        context = (" . " if sep else "。").join(sentences)
        answer = NOUNS[lang][sleeper]
        start = context.index(f"{answer}{sep}{yes}")
        record = {"id": f"{lang}-{seed}-{i}", "context": context, "question": QUESTION[lang],
                  "answers": {"text": [answer], "answer_start": [start]}}
        if title:
            record = {"id": record["id"], "title": "animals", **{k: v for k, v in record.items() if k != "id"}}
        out.append(record)
    return out


WRITERS = {"xnli": xnli_records, "xcopa": copa_records, "xquad": squad_records,
           "mlqa": lambda lang, n, seed: squad_records(lang, n, seed, title=False)}
TEST_LANGUAGES = {"xnli": ("en", "ar", "zh"), "xcopa": ("en", "th", "zh"), "xquad": ("en", "el", "th"),
                  "mlqa": ("en", "ar", "zh")}


def write_task(task: str, root: Path, train: int = 64, test: int = 12) -> Path:
    """``root/en/train.jsonl`` and ``root/<lang>/test.jsonl`` for the task's fixture languages."""
    writer = WRITERS[task]
    write_jsonl(root / "en" / "train.jsonl", writer("en", train, 0))
    for i, lang in enumerate(TEST_LANGUAGES[task]):
        write_jsonl(root / lang / "test.jsonl", writer(lang, test, 100 + i))
    return root
