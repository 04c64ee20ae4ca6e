"""SQuAD-style span processing for extractive QA with a Hugging Face *fast* tokenizer.

Pure functions in the style of transformers' ``examples/pytorch/question-answering/run_qa.py``:

* :func:`prepare_train_features` / :func:`prepare_eval_features` turn a batch of
  SQuAD-schema examples (a dict of lists, e.g. a ``datasets`` batch with keys
  ``id``, ``title``, ``context``, ``question``, ``answers{text, answer_start}``)
  into fixed-length features; a long context becomes several overlapping
  windows (``return_overflowing_tokens`` with ``stride=doc_stride``).
* :func:`postprocess_predictions` maps start/end logits of every feature back to
  one answer string per example.

No torch: inputs and outputs are plain lists; logits may be anything
``numpy.asarray`` accepts (lists, numpy arrays, CPU tensors).

Layout: with a right-padding tokenizer the pair is ``(question, context)``,
truncation ``only_second``; with a left-padding tokenizer the pair is
``(context, question)``, truncation ``only_first`` (as run_qa does). Questions
have their leading whitespace stripped (some SQuAD-style questions start with
many spaces, which would waste the window).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["prepare_train_features", "prepare_eval_features", "postprocess_predictions"]


def _tokenize(examples: Mapping[str, Sequence[Any]], tokenizer, max_length: int, doc_stride: int):
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("a fast tokenizer (PreTrainedTokenizerFast) is required for offset mappings")
    if not 0 <= doc_stride < max_length:
        raise ValueError(f"doc_stride ({doc_stride}) must be >= 0 and < max_length ({max_length})")
    pad_on_right = tokenizer.padding_side == "right"
    questions = _truncate_questions([q.lstrip() for q in examples["question"]], tokenizer, max_length, doc_stride)
    contexts = list(examples["context"])
    enc = tokenizer(
        questions if pad_on_right else contexts,
        contexts if pad_on_right else questions,
        truncation="only_second" if pad_on_right else "only_first",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    context_seq_id = 1 if pad_on_right else 0
    return enc, context_seq_id


def _truncate_questions(questions: list[str], tokenizer, max_length: int, doc_stride: int,
                        max_query_length: int = 64) -> list[str]:
    """Cut each question to at most ``max_query_length`` tokens, and short enough to leave the context
    more than ``doc_stride`` tokens per window (otherwise the fast tokenizer cannot make windows)."""
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    budget = max(1, min(max_query_length, max_length - doc_stride - specials - 1))
    offsets = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return [q if len(spans) <= budget else q[:spans[budget - 1][1]] for q, spans in zip(questions, offsets)]


def _cls_index(input_ids: Sequence[int], tokenizer) -> int:
    for tok_id in (tokenizer.cls_token_id, tokenizer.bos_token_id):
        if tok_id is not None and tok_id in input_ids:
            return list(input_ids).index(tok_id)
    return 0


def _plain(enc) -> dict[str, list]:
    return {k: list(v) for k, v in enc.items()}


def _answer_tokens(offsets, ctx: list[int], start_char: int, end_char: int) -> tuple[int, int] | None:
    """Token span of the answer characters [start_char, end_char) inside one
    window, or None when the window does not hold the whole answer."""
    if not ctx or end_char <= start_char:
        return None
    if not (offsets[ctx[0]][0] <= start_char and offsets[ctx[-1]][1] >= end_char):
        return None
    # Tokens overlapping the answer: the first context token that ends after it
    # starts, the last one that starts before it ends.
    tok_start = next(k for k in ctx if offsets[k][1] > start_char)
    tok_end = next(k for k in reversed(ctx) if offsets[k][0] < end_char)
    if tok_end < tok_start:  # answer made only of untokenised characters (spaces)
        return None
    return tok_start, tok_end


def prepare_train_features(
    examples: Mapping[str, Sequence[Any]], tokenizer, max_length: int = 384, doc_stride: int = 128
) -> dict[str, list]:
    """Training features with ``start_positions`` / ``end_positions``.

    The first answer of each example is the target; its tokens are the context
    tokens overlapping its characters (an answer starting or ending inside a
    word covers that whole token). A window that does not contain the whole
    answer, and every window of an example without answers (or with an empty
    or whitespace-only answer), is labelled with the CLS token's index (0 for
    the usual right-padded layouts).

    Returns a dict of lists (``input_ids``, ``attention_mask``, optional
    ``token_type_ids``, ``start_positions``, ``end_positions``), one row per
    window; offsets and the sample mapping are dropped.
    """
    enc, ctx_id = _tokenize(examples, tokenizer, max_length, doc_stride)
    sample_mapping = enc["overflow_to_sample_mapping"]
    answers_col = examples["answers"]
    starts: list[int] = []
    ends: list[int] = []
    for i, offsets in enumerate(enc["offset_mapping"]):
        answers = answers_col[sample_mapping[i]]
        span = None
        if answers["answer_start"]:
            start_char = answers["answer_start"][0]
            end_char = start_char + len(answers["text"][0])
            ctx = [k for k, s in enumerate(enc.sequence_ids(i)) if s == ctx_id]
            span = _answer_tokens(offsets, ctx, start_char, end_char)
        if span is None:
            cls_index = _cls_index(enc["input_ids"][i], tokenizer)
            span = (cls_index, cls_index)
        starts.append(span[0])
        ends.append(span[1])
    out = _plain(enc)
    out.pop("overflow_to_sample_mapping")
    out.pop("offset_mapping")
    out["start_positions"] = starts
    out["end_positions"] = ends
    return out


def prepare_eval_features(
    examples: Mapping[str, Sequence[Any]], tokenizer, max_length: int = 384, doc_stride: int = 128
) -> dict[str, list]:
    """Evaluation features: one row per window with ``example_id`` (the source
    example's ``id``) and ``offset_mapping`` where every offset that is not a
    context token (question, special and padding tokens) is ``None``."""
    enc, ctx_id = _tokenize(examples, tokenizer, max_length, doc_stride)
    sample_mapping = enc["overflow_to_sample_mapping"]
    ids = examples["id"]
    example_ids: list[Any] = []
    offset_mapping: list[list] = []
    for i, offsets in enumerate(enc["offset_mapping"]):
        seq_ids = enc.sequence_ids(i)
        example_ids.append(ids[sample_mapping[i]])
        offset_mapping.append(
            [list(o) if seq_ids[k] == ctx_id else None for k, o in enumerate(offsets)]
        )
    out = _plain(enc)
    out.pop("overflow_to_sample_mapping")
    out["offset_mapping"] = offset_mapping
    out["example_id"] = example_ids
    return out


def _top_k(logits: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Indices (from ``candidates``) of the k largest logits, best first; ties
    keep the earlier position (stable)."""
    order = np.argsort(-logits[candidates], kind="stable")[:k]
    return candidates[order]


def postprocess_predictions(
    examples: Mapping[str, Sequence[Any]],
    features: Mapping[str, Sequence[Any]],
    start_logits,
    end_logits,
    n_best: int = 20,
    max_answer_length: int = 30,
) -> dict[Any, str]:
    """Best answer text per example id.

    ``examples`` needs ``id`` and ``context`` columns, ``features`` the
    ``example_id`` and ``offset_mapping`` columns of
    :func:`prepare_eval_features` (a dict of lists or a ``datasets.Dataset``);
    ``start_logits`` / ``end_logits`` have one row per feature (rows may be
    longer than the features, e.g. padded; extra positions are ignored).

    For each feature the ``n_best`` highest start and end logits among its
    *context* tokens are paired; a pair is skipped when end < start, when it
    spans more than ``max_answer_length`` tokens, or when its character span is
    empty. The highest ``start + end`` logit over all features of an example
    wins (ties: earlier feature, then higher-ranked start/end); its text is
    ``context[start_char:end_char]``. An example with no valid span gets ``""``.
    """
    example_ids = list(examples["id"])
    contexts = list(examples["context"])
    index_of = {eid: i for i, eid in enumerate(example_ids)}
    feat_example_ids = list(features["example_id"])
    feat_offsets = list(features["offset_mapping"])
    n_features = len(feat_example_ids)
    if len(start_logits) != n_features or len(end_logits) != n_features:
        raise ValueError(
            f"got {len(start_logits)} start and {len(end_logits)} end logit rows for {n_features} features"
        )

    best: dict[int, tuple[float, int, int]] = {}  # example index -> (score, start_char, end_char)
    for f in range(n_features):
        eid = feat_example_ids[f]
        if eid not in index_of:
            raise KeyError(f"feature {f} refers to example id {eid!r}, which is not in examples")
        ex = index_of[eid]
        offsets = feat_offsets[f]
        s_log = np.asarray(start_logits[f], dtype=np.float64)
        e_log = np.asarray(end_logits[f], dtype=np.float64)
        n = min(len(offsets), len(s_log), len(e_log))
        context_tokens = np.array(
            [k for k in range(n) if offsets[k] is not None and len(offsets[k]) >= 2], dtype=np.int64
        )
        if context_tokens.size == 0:
            continue
        for s in _top_k(s_log, context_tokens, n_best):
            for e in _top_k(e_log, context_tokens, n_best):
                if e < s or e - s + 1 > max_answer_length:
                    continue
                start_char, end_char = offsets[s][0], offsets[e][1]
                if end_char <= start_char:
                    continue
                cand = float(s_log[s] + e_log[e])
                if ex not in best or cand > best[ex][0]:
                    best[ex] = (cand, start_char, end_char)

    predictions: dict[Any, str] = {}
    for i, eid in enumerate(example_ids):
        if i in best:
            _, a, b = best[i]
            predictions[eid] = contexts[i][a:b]
        else:
            predictions[eid] = ""
    return predictions
