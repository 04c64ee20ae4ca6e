"""Extractive-QA F1 and exact match, following the MLQA evaluation rules.

Written for this project (not taken from ``evaluate``). The rules reproduce
facebookresearch/MLQA ``mlqa_evaluation_v1.py`` for the seven MLQA languages
(en, es, de, vi, ar, hi, zh) and extend them, as documented in
``docs/qa-metrics.md``, to the XQuAD languages that MLQA lacks (el, ru, th, tr,
ro) and to any other language code.

Normalisation of one answer string, in this order:

1. Unicode NFC (a no-op on NFC text, which is what MLQA/XQuAD ship);
2. lower-case (Turkish uses Turkish dotted/dotless ``I`` rules);
3. drop every punctuation character: every Unicode category ``P*`` plus
   ``string.punctuation``;
4. replace the language's articles with a space (whole words, except Arabic,
   see ``SUBSTRING_ARTICLES``);
5. segment into tokens (whitespace, or mixed segmentation for zh/th) and
   join the tokens with single spaces.

Exact match compares two normalised strings; F1 is the bag-of-tokens F1 of the
two token lists. ``score`` averages over the reference ids, taking the maximum
over each id's reference answers.

The only public entry point is :func:`score`; ``normalize_answer``,
``answer_tokens``, ``f1_score`` and ``exact_match_score`` are exposed for tests
and debugging.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections import Counter
from typing import Mapping, Sequence

__all__ = ["score", "normalize_answer", "answer_tokens", "f1_score", "exact_match_score"]

# ---------------------------------------------------------------------------
# Per-language tables (data). Language codes are ISO 639-1, compared after
# lower-casing and dropping any region/script subtag ("zh-CN" -> "zh").
# ---------------------------------------------------------------------------

#: Articles removed as whole words (regex ``\b(...)\b``, Unicode-aware).
#: en/es/de/vi are MLQA's lists verbatim; el is this project's choice.
ARTICLES: dict[str, tuple[str, ...]] = {
    "en": ("a", "an", "the"),
    "es": ("un", "una", "unos", "unas", "el", "la", "los", "las"),
    "de": ("ein", "eine", "einen", "einem", "eines", "einer", "der", "die", "das", "den", "dem", "des"),
    "vi": ("của", "là", "cái", "chiếc", "những"),
    # Greek (not in MLQA): definite article in all cases/genders/numbers,
    # including the n-less accusative "τη". Indefinite forms (ένας/μία/ένα...)
    # double as the numeral "one" and are kept.
    "el": ("ο", "η", "το", "οι", "τα", "του", "της", "των", "τον", "την", "τη", "τους", "τις"),
    # hi, zh (MLQA: no formal articles), ru, tr, th, ro and unknown codes: none.
}

#: Articles removed wherever they occur as a substring, replaced by a space.
#: This reproduces MLQA's Arabic rule ``re.sub('\sال^|ال', ' ', text)``: its
#: first alternative can never match, so in effect *every* occurrence of "ال"
#: (the definite-article prefix, but also word-internal "ال") becomes a space.
#: Kept verbatim so that Arabic scores match published MLQA numbers.
SUBSTRING_ARTICLES: dict[str, tuple[str, ...]] = {
    "ar": ("ال",),
}

#: Characters that become single-character tokens under mixed segmentation.
#: zh is MLQA's range verbatim (CJK Unified Ideographs U+4E00..U+9FA5).
#: th (not in MLQA): Thai is written without spaces between words, so each
#: Thai character is a token, with combining marks (vowel/tone marks, category
#: M*) attached to the preceding Thai character.
MIXED_SEGMENTATION: dict[str, str] = {
    "zh": "[\u4e00-\u9fa5]",
    "th": "[\u0e00-\u0e7f]",
}

#: Languages whose combining marks stick to the preceding single-char token.
ATTACH_COMBINING_MARKS: frozenset[str] = frozenset({"th"})

#: Languages lower-cased with Turkish rules (I -> ı, İ -> i) instead of str.lower.
TURKIC_CASING: frozenset[str] = frozenset({"tr", "az"})

#: Languages with an explicit entry above or known to need none; anything else
#: is normalised with no articles and whitespace tokenisation.
KNOWN_LANGUAGES: frozenset[str] = frozenset(
    {"en", "es", "de", "vi", "ar", "hi", "zh", "el", "ru", "tr", "th", "ro"}
)

# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P") or ch in string.punctuation


def _base_lang(lang: str) -> str:
    if not isinstance(lang, str):
        raise TypeError(f"lang must be a str, got {type(lang).__name__}")
    return lang.strip().lower().replace("_", "-").split("-", 1)[0]


@functools.lru_cache(maxsize=None)
def _article_regex(lang: str) -> re.Pattern[str] | None:
    words = ARTICLES.get(lang)
    subs = SUBSTRING_ARTICLES.get(lang)
    parts = []
    if words:
        parts.append(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b")
    if subs:
        parts.append("|".join(map(re.escape, subs)))
    return re.compile("|".join(parts)) if parts else None


@functools.lru_cache(maxsize=None)
def _mixed_regex(lang: str) -> re.Pattern[str] | None:
    pattern = MIXED_SEGMENTATION.get(lang)
    return re.compile(pattern) if pattern else None


def _lower(text: str, lang: str) -> str:
    if lang in TURKIC_CASING:
        text = text.replace("I", "ı").replace("İ", "i")
    return text.lower()


def _mixed_segmentation(text: str, single: re.Pattern[str], attach_marks: bool) -> list[str]:
    """MLQA's mixed segmentation: every ``single`` character (and punctuation
    character) is its own token; runs of other characters are whitespace-split.
    With ``attach_marks``, a combining mark directly after a single-character
    token is appended to it instead of starting a run."""
    tokens: list[str] = []
    run: list[str] = []
    last_single = False
    for ch in text:
        if attach_marks and last_single and not run and unicodedata.category(ch).startswith("M"):
            tokens[-1] += ch
        elif single.match(ch) or _is_punct(ch):
            if run:
                tokens.extend("".join(run).split())
                run = []
            tokens.append(ch)
            last_single = True
        else:
            run.append(ch)
            last_single = False
    if run:
        tokens.extend("".join(run).split())
    return tokens


def answer_tokens(text: str, lang: str) -> list[str]:
    """Tokens of the normalised answer (what F1 counts)."""
    lang = _base_lang(lang)
    text = unicodedata.normalize("NFC", text)
    text = _lower(text, lang)
    text = "".join(ch for ch in text if not _is_punct(ch))
    articles = _article_regex(lang)
    if articles is not None:
        text = articles.sub(" ", text)
    mixed = _mixed_regex(lang)
    if mixed is not None:
        tokens = _mixed_segmentation(text, mixed, lang in ATTACH_COMBINING_MARKS)
    else:
        tokens = text.split()
    return [t for t in tokens if t.strip()]


def normalize_answer(text: str, lang: str) -> str:
    """Normalised answer string: tokens joined by single spaces."""
    return " ".join(answer_tokens(text, lang))


def f1_score(prediction: str, reference: str, lang: str) -> float:
    """Token-bag F1 in [0, 1]; 0 when nothing is shared (also when either side
    normalises to no tokens, as in MLQA/SQuAD v1.1)."""
    pred = answer_tokens(prediction, lang)
    gold = answer_tokens(reference, lang)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_match_score(prediction: str, reference: str, lang: str) -> float:
    """1.0 if the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction, lang) == normalize_answer(reference, lang))


def score(
    predictions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    lang: str,
) -> dict[str, float]:
    """Corpus F1 and exact match on a 0-100 scale.

    ``references`` maps each question id to its list of gold answer texts and
    defines the evaluation set: the result is the mean over *its* ids of the
    best score against any of that id's answers. An id missing from
    ``predictions`` (or mapped to ``None``) scores 0 on both metrics, as in the
    official MLQA/SQuAD scripts; predictions for ids not in ``references`` are
    ignored. ``lang`` is the language of the answers (context language).

    Raises ``ValueError`` for an empty ``references`` or an id with no
    reference answers, ``TypeError`` when an id's references are a bare string.
    """
    if not references:
        raise ValueError("references is empty: nothing to score")
    lang = _base_lang(lang)
    total_f1 = 0.0
    total_em = 0.0
    for qid, golds in references.items():
        if isinstance(golds, str):
            raise TypeError(f"references[{qid!r}] must be a list of answer strings, not a str")
        golds = list(golds)
        if not golds:
            raise ValueError(f"references[{qid!r}] has no answers")
        pred = predictions.get(qid)
        if pred is None:
            continue
        total_f1 += max(f1_score(pred, g, lang) for g in golds)
        total_em += max(exact_match_score(pred, g, lang) for g in golds)
    n = len(references)
    return {"f1": 100.0 * total_f1 / n, "exact_match": 100.0 * total_em / n}
