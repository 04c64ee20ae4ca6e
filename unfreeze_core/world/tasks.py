"""Task data of the world in the hub schemas (pure Python, no torch).

NLI {premise, hypothesis, label 0/1/2 = entailment/neutral/contradiction};
COPA {premise, choice1, choice2, question "cause"/"effect", label 0/1};
SQuAD {id, title, context, question, answers {text: [..], answer_start: [..]}}.

English gets train and validation; every language (English included) gets a test split rendered
from the *same* latent examples in the same order.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from .generator import (COPA_QUESTIONS, LANGUAGES, Language, Rendered, char_span, copa_latent,
                        join, nli_latent, qa_latent)

TASKS = ("nli", "copa", "qa")
# which generator wrote a world's data (recorded in its manifest): nli 2 = labels that need
# composition (negation reverses monotonicity; agent and object exchanged); qa 2 = stories of one event
# (`generator.QA_STORY_EVENTS`), see docs/world.md
TASK_VERSIONS = {"nli": 2, "copa": 1, "qa": 2}
DEFAULT_SIZES = {
    "nli": {"train": 20000, "validation": 1000, "test": 1000},
    "copa": {"train": 1000, "validation": 200, "test": 500},
    "qa": {"train": 5000, "validation": 500, "test": 500},
}


def _latents(task: str, seed: int, split: str, n: int) -> list:
    rng = random.Random(f"{task}-{seed}-{split}")
    out = []
    for i in range(n):
        if task == "nli":
            label = i % 3
            out.append((nli_latent(rng, label), label))
        elif task == "copa":
            label, question = rng.randrange(2), COPA_QUESTIONS[i % 2]
            out.append((copa_latent(rng, label, question), (label, question)))
        else:
            out.append((qa_latent(rng), None))
    order = list(range(n))
    rng.shuffle(order)
    return [out[i] for i in order]


def _sent(lang: Language, x) -> str:
    return join(lang.sentence(x).words)


def render(task: str, lang: Language, latent, extra, idx: str) -> dict:
    if task == "nli":
        prem, hyp = latent
        return {"premise": _sent(lang, prem), "hypothesis": _sent(lang, hyp), "label": extra}
    if task == "copa":
        prem, c1, c2 = latent
        label, question = extra
        return {"premise": _sent(lang, prem), "choice1": _sent(lang, c1), "choice2": _sent(lang, c2),
                "question": question, "label": label}
    events, q, wh = latent
    ctx_words: list[str] = []
    answer_span = None
    for i, ev in enumerate(events):
        r: Rendered = lang.sentence(ev)
        if i == q:
            key = {"agent": "agent", "obj": "obj", "place": "place"}[wh]
            s, e = r.spans[key]
            answer_span = (len(ctx_words) + s, len(ctx_words) + e)
        ctx_words += r.words
    start, text = char_span(ctx_words, answer_span)
    context = join(ctx_words)
    assert context[start:start + len(text)] == text
    question = join(lang.sentence(events[q], wh=wh).words)
    return {"id": idx, "title": f"world-{idx.split('-')[0]}", "context": context, "question": question,
            "answers": {"text": [text], "answer_start": [start]}}


def task_records(task: str, seed: int, sizes: dict[str, int] | None = None,
                 languages: list[str] | None = None) -> dict[tuple[str, str], list[dict]]:
    """{(lang, split): records}: English train/validation and a parallel test split per language."""
    sizes = {**DEFAULT_SIZES[task], **(sizes or {})}
    languages = languages or LANGUAGES
    langs = {c: Language(c, seed) for c in languages}
    out: dict[tuple[str, str], list[dict]] = {}
    for split in ("train", "validation"):
        lat = _latents(task, seed, split, sizes[split])
        out[("en", split)] = [render(task, langs["en"], x, y, f"{split}-{i}") for i, (x, y) in enumerate(lat)]
    lat = _latents(task, seed, "test", sizes["test"])
    for c in languages:
        out[(c, "test")] = [render(task, langs[c], x, y, f"test-{i}") for i, (x, y) in enumerate(lat)]
    return out


def write_task(task: str, root: Path, seed: int, sizes: dict[str, int] | None = None) -> dict[str, int]:
    """Write `<root>/<lang>/<split>.jsonl`; return record counts per file."""
    counts = {}
    for (lang, split), recs in task_records(task, seed, sizes).items():
        path = root / lang / f"{split}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        counts[f"{lang}/{split}"] = len(recs)
    return counts
