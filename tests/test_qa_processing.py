"""Span processing for extractive QA, with a tiny fast tokenizer built offline.

The tokenizer is a WordPiece model whose vocabulary is every word of a small
corpus (so each word is one token), a BERT normaliser (lower-casing, CJK
characters split one per token, accents kept) and a RoBERTa-style pair
template ``<s> question </s> </s> context </s>``.
"""

import numpy as np
import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from unfreeze_core.tasks.qa_processing import (
    postprocess_predictions,
    prepare_eval_features,
    prepare_train_features,
)

QUESTION = "which word is it ?"  # 5 tokens
LONG_CONTEXT = " ".join(f"w{i}" for i in range(60))  # 60 tokens, one per word
GREEK = "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας."
CHINESE = "北京大学是中国的大学。"
ENGLISH = "The Eiffel Tower is located in Paris, the capital of France."
CORPUS = [QUESTION, LONG_CONTEXT, GREEK, CHINESE, ENGLISH, "where is the tower ? what is the capital ?"]

MAX_LEN = 24
STRIDE = 4
SPECIALS_IN_PAIR = 4  # <s> </s> </s> ... </s>
WINDOW = MAX_LEN - 5 - SPECIALS_IN_PAIR  # context tokens per window: 15
STEP = WINDOW - STRIDE  # windows start every 11 context tokens


def build_tokenizer(padding_side="right"):
    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True
    )
    pre = pre_tokenizers.BertPreTokenizer()
    words = sorted(
        {w for text in CORPUS for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(text))}
    )
    specials = ["<pad>", "<s>", "</s>", "<unk>", "<mask>"]
    vocab = {tok: i for i, tok in enumerate(specials + words)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="<unk>"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B:1 </s>:1",
        special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        padding_side=padding_side,
        model_max_length=512,
    )


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


def batch(items):
    """items: (id, context, question, answer_text) -> a SQuAD-schema dict of lists."""
    out = {"id": [], "title": [], "context": [], "question": [], "answers": []}
    for qid, context, question, answer in items:
        out["id"].append(qid)
        out["title"].append("t")
        out["context"].append(context)
        out["question"].append(question)
        start = context.index(answer)
        out["answers"].append({"text": [answer], "answer_start": [start]})
    return out


def word_span(i, j):
    """Answer text 'wi ... wj' of LONG_CONTEXT."""
    return " ".join(f"w{k}" for k in range(i, j + 1))


def span_text(tokenizer, examples, row, start_tok, end_tok):
    """Map token positions of a training feature back to context characters
    through a matching evaluation feature's offsets."""
    ev = prepare_eval_features(examples, tokenizer, MAX_LEN, STRIDE)
    offsets = ev["offset_mapping"][row]
    context = examples["context"][examples["id"].index(ev["example_id"][row])]
    return context[offsets[start_tok][0] : offsets[end_tok][1]]


# ----------------------------------------------------------- training features


@pytest.mark.parametrize(
    "context,answer",
    [
        (ENGLISH, "Eiffel Tower"),
        (ENGLISH, "the capital of France"),
        (GREEK, "πρωτεύουσα της Ελλάδας"),  # Greek, with accents and capitals
        (GREEK, "Η Αθήνα"),
        (CHINESE, "北京大学"),  # one token per CJK character
        (CHINESE, "中国"),
    ],
)
def test_train_positions_map_back_to_answer(tokenizer, context, answer):
    ex = batch([("x", context, "what is the capital ?", answer)])
    feats = prepare_train_features(ex, tokenizer, MAX_LEN, STRIDE)
    assert len(feats["input_ids"]) == 1
    s, e = feats["start_positions"][0], feats["end_positions"][0]
    assert 0 < s <= e < MAX_LEN
    assert span_text(tokenizer, ex, 0, s, e) == answer
    assert all(len(row) == MAX_LEN for row in feats["input_ids"])
    assert "offset_mapping" not in feats and "overflow_to_sample_mapping" not in feats


def test_long_context_windows_overlap_by_stride(tokenizer):
    ex = batch([("long", LONG_CONTEXT, QUESTION, "w30")])
    ev = prepare_eval_features(ex, tokenizer, MAX_LEN, STRIDE)
    # word number ("w17" -> 17) of each window's context tokens, read through the offsets
    windows = [
        [int(LONG_CONTEXT[a:b][1:]) for a, b in (o for o in offsets if o is not None)]
        for offsets in ev["offset_mapping"]
    ]
    # 60 tokens, 15 per window, a new window every 11 tokens: 0, 11, 22, 33, 44, 55
    assert [w[0] for w in windows] == [0, 11, 22, 33, 44, 55]
    for w in windows[:-1]:
        assert w == list(range(w[0], w[0] + WINDOW))
    assert windows[-1] == list(range(55, 60))
    for a, b in zip(windows, windows[1:]):
        assert len(set(a) & set(b)) == STRIDE
    assert ev["example_id"] == ["long"] * 6


def test_answer_outside_or_across_window_gets_cls(tokenizer):
    ex = batch(
        [
            ("a", LONG_CONTEXT, QUESTION, word_span(30, 31)),  # only in window 2 (22..36)
            ("b", LONG_CONTEXT, QUESTION, word_span(13, 14)),  # windows 0 (0..14) and 1 (11..25)
            ("c", LONG_CONTEXT, "  " + QUESTION, word_span(14, 15)),  # straddles the end of window 0
        ]
    )
    feats = prepare_train_features(ex, tokenizer, MAX_LEN, STRIDE)
    assert len(feats["input_ids"]) == 18  # 6 windows per example
    pos = list(zip(feats["start_positions"], feats["end_positions"]))
    first_ctx = 8  # <s> + 5 question tokens + </s> </s>

    # example a: window 2 starts at w22, so w30 is context token 8 of that window
    assert pos[0:6] == [(0, 0), (0, 0), (first_ctx + 8, first_ctx + 9), (0, 0), (0, 0), (0, 0)]
    # example b: inside two overlapping windows, at different positions
    assert pos[6:12] == [
        (first_ctx + 13, first_ctx + 14),
        (first_ctx + 2, first_ctx + 3),
        (0, 0), (0, 0), (0, 0), (0, 0),
    ]
    # example c: window 0 holds w14 but not w15 -> CLS; window 1 holds both
    assert pos[12:18] == [(0, 0), (first_ctx + 3, first_ctx + 4), (0, 0), (0, 0), (0, 0), (0, 0)]
    for row, (s, e) in enumerate(pos):
        if s:
            assert span_text(tokenizer, ex, row, s, e) == ex["answers"][row // 6]["text"][0]


def test_question_leading_whitespace_stripped_and_input_untouched(tokenizer):
    ex = batch([("x", ENGLISH, "   \t what is the capital ?", "Paris")])
    plain = batch([("x", ENGLISH, "what is the capital ?", "Paris")])
    a = prepare_train_features(ex, tokenizer, MAX_LEN, STRIDE)
    b = prepare_train_features(plain, tokenizer, MAX_LEN, STRIDE)
    assert a == b
    assert ex["question"][0].startswith("   \t")


def test_example_without_answer_gets_cls(tokenizer):
    ex = batch([("x", ENGLISH, "what is the capital ?", "Paris")])
    ex["answers"] = [{"text": [], "answer_start": []}]
    feats = prepare_train_features(ex, tokenizer, MAX_LEN, STRIDE)
    assert (feats["start_positions"], feats["end_positions"]) == ([0], [0])


def test_left_padding_puts_context_first(tokenizer):
    left = build_tokenizer(padding_side="left")
    ex = batch([("x", ENGLISH, "what is the capital ?", "the capital of France")])
    feats = prepare_train_features(ex, left, 32, STRIDE)
    ev = prepare_eval_features(ex, left, 32, STRIDE)
    s, e = feats["start_positions"][0], feats["end_positions"][0]
    offsets = ev["offset_mapping"][0]
    assert ENGLISH[offsets[s][0] : offsets[e][1]] == "the capital of France"
    # padding is on the left, then <s> and the context; the question tokens are None
    ids = feats["input_ids"][0]
    cls = ids.index(left.cls_token_id)
    assert all(i == left.pad_token_id for i in ids[:cls])
    assert offsets[cls] is None and offsets[cls + 1] is not None and offsets[-2] is None


def test_invalid_arguments(tokenizer):
    ex = batch([("x", ENGLISH, "what ?", "Paris")])
    with pytest.raises(ValueError):
        prepare_train_features(ex, tokenizer, max_length=16, doc_stride=16)

    class Slow:
        is_fast = False

    with pytest.raises(TypeError):
        prepare_eval_features(ex, Slow())


# --------------------------------------------------------- evaluation features


def test_eval_features_offsets_only_on_context(tokenizer):
    ex = batch([("g", GREEK, "what is the capital ?", "Η Αθήνα"), ("z", CHINESE, "what ?", "中国")])
    ev = prepare_eval_features(ex, tokenizer, MAX_LEN, STRIDE)
    assert ev["example_id"] == ["g", "z"]
    assert "start_positions" not in ev
    for row, context in enumerate([GREEK, CHINESE]):
        offsets = ev["offset_mapping"][row]
        ids = ev["input_ids"][row]
        assert offsets[0] is None  # <s>
        kept = [(k, o) for k, o in enumerate(offsets) if o is not None]
        # every context token's offsets slice out its own text (lower-cased by the tokenizer)
        for k, (a, b) in kept:
            assert tokenizer.convert_ids_to_tokens(ids[k]) == context[a:b].lower()
        # and together they cover every non-space character of the context
        covered = "".join(context[a:b] for _, (a, b) in kept)
        assert covered == context.replace(" ", "")
    # Chinese: one token per character
    assert len([o for o in ev["offset_mapping"][1] if o is not None]) == len(CHINESE)


# -------------------------------------------------------------- postprocessing


def logits_for(ev, peaks):
    """Zero logits with {(row, token): (start_value, end_value)} peaks."""
    n = len(ev["input_ids"])
    start = np.zeros((n, MAX_LEN))
    end = np.zeros((n, MAX_LEN))
    for (row, tok), (s, e) in peaks.items():
        start[row, tok] += s
        end[row, tok] += e
    return start, end


def test_postprocess_returns_gold_span(tokenizer):
    ex = batch([("g", GREEK, "what is the capital ?", "πρωτεύουσα της Ελλάδας")])
    feats = prepare_train_features(ex, tokenizer, MAX_LEN, STRIDE)
    ev = prepare_eval_features(ex, tokenizer, MAX_LEN, STRIDE)
    s, e = feats["start_positions"][0], feats["end_positions"][0]
    start, end = logits_for(ev, {(0, s): (5.0, 0.0), (0, e): (0.0, 5.0)})
    # distractor: the highest logits sit on <s> and a question token, which are not context
    start[0, 0] = end[0, 0] = 50.0
    start[0, 2] = end[0, 3] = 40.0
    assert postprocess_predictions(ex, ev, start, end) == {"g": "πρωτεύουσα της Ελλάδας"}


def test_postprocess_chinese(tokenizer):
    ex = batch([("z", CHINESE, "what ?", "中国")])
    feats = prepare_train_features(ex, tokenizer, MAX_LEN, STRIDE)
    ev = prepare_eval_features(ex, tokenizer, MAX_LEN, STRIDE)
    s, e = feats["start_positions"][0], feats["end_positions"][0]
    start, end = logits_for(ev, {(0, s): (3.0, 0.0), (0, e): (0.0, 3.0)})
    assert postprocess_predictions(ex, ev, start.tolist(), end.tolist()) == {"z": "中国"}


def test_postprocess_searches_all_windows_and_skips_invalid_spans(tokenizer):
    ex = batch([("long", LONG_CONTEXT, QUESTION, "w30")])
    ev = prepare_eval_features(ex, tokenizer, MAX_LEN, STRIDE)
    c = 8  # first context position
    # window 2 starts at w22: w30 -> c+8, w31 -> c+9, w25 -> c+3, w36 -> c+14
    peaks = {
        (2, c + 8): (10.0, 0.0),  # start on w30
        (2, c + 9): (0.0, 10.0),  # end on w31: score 20
        (2, c + 3): (0.0, 15.0),  # end on w25 < start: (w30, w25) = 25 is invalid
        (0, c + 1): (9.0, 0.0),  # a weaker span in window 0: w1..w2 = 18
        (0, c + 2): (0.0, 9.0),
    }
    start, end = logits_for(ev, peaks)
    assert postprocess_predictions(ex, ev, start, end) == {"long": "w30 w31"}

    # a longer span with a higher score wins unless it exceeds max_answer_length
    start[2, c + 14] = 0.0
    end[2, c + 14] = 12.0  # (w30, w36) = 22, 7 tokens
    assert postprocess_predictions(ex, ev, start, end)["long"] == word_span(30, 36)
    assert postprocess_predictions(ex, ev, start, end, max_answer_length=6)["long"] == "w30 w31"

    # n_best=1 pairs only each window's top start with its top end: in window 2 that is
    # (w30, w25), invalid, so window 2 contributes nothing and window 0's w1..w2 wins
    assert postprocess_predictions(ex, ev, start, end, n_best=1)["long"] == "w1 w2"


def test_postprocess_prefers_best_window_for_overlapping_answer(tokenizer):
    ex = batch([("b", LONG_CONTEXT, QUESTION, word_span(13, 14))])
    ev = prepare_eval_features(ex, tokenizer, MAX_LEN, STRIDE)
    c = 8
    # w12..w13 seen in window 0 (score 4) and w13..w14 in window 1 (score 6)
    start, end = logits_for(
        ev,
        {(0, c + 12): (2.0, 0.0), (0, c + 13): (0.0, 2.0), (1, c + 2): (3.0, 0.0), (1, c + 3): (0.0, 3.0)},
    )
    assert postprocess_predictions(ex, ev, start, end) == {"b": "w13 w14"}


def test_postprocess_empty_when_nothing_valid(tokenizer):
    ex = batch([("x", ENGLISH, "what ?", "Paris"), ("y", GREEK, "what ?", "Η Αθήνα")])
    ev = prepare_eval_features(ex, tokenizer, MAX_LEN, STRIDE)
    start, end = logits_for(ev, {})
    assert postprocess_predictions(ex, ev, start, end, max_answer_length=0) == {"x": "", "y": ""}
    # an example whose features carry no context offsets at all
    ev["offset_mapping"][1] = [None] * MAX_LEN
    out = postprocess_predictions(ex, ev, start, end)
    assert out["y"] == "" and out["x"] != ""


def test_postprocess_rejects_mismatched_inputs(tokenizer):
    ex = batch([("x", ENGLISH, "what ?", "Paris")])
    ev = prepare_eval_features(ex, tokenizer, MAX_LEN, STRIDE)
    start, end = logits_for(ev, {})
    with pytest.raises(ValueError):
        postprocess_predictions(ex, ev, start[:0], end[:0])
    with pytest.raises(KeyError):
        postprocess_predictions(batch([("other", ENGLISH, "what ?", "Paris")]), ev, start, end)


# ------------------------------------------------------- datasets round trip


def test_datasets_map_round_trip(tokenizer):
    datasets = pytest.importorskip("datasets")
    raw = datasets.Dataset.from_dict(
        batch(
            [
                ("long", LONG_CONTEXT, QUESTION, "w30"),
                ("g", GREEK, "what is the capital ?", "πρωτεύουσα της Ελλάδας"),
            ]
        )
    )
    kwargs = dict(tokenizer=tokenizer, max_length=MAX_LEN, doc_stride=STRIDE)
    train = raw.map(prepare_train_features, batched=True, remove_columns=raw.column_names, fn_kwargs=kwargs)
    ev = raw.map(prepare_eval_features, batched=True, remove_columns=raw.column_names, fn_kwargs=kwargs)
    assert train.num_rows == ev.num_rows == 7
    assert set(train.column_names) >= {"input_ids", "attention_mask", "start_positions", "end_positions"}
    start = np.zeros((ev.num_rows, MAX_LEN))
    end = np.zeros((ev.num_rows, MAX_LEN))
    for row, (s, e) in enumerate(zip(train["start_positions"], train["end_positions"])):
        if s:  # the window that contains the gold answer
            start[row, s] = end[row, e] = 1.0
    assert postprocess_predictions(raw, ev, start, end) == {"long": "w30", "g": "πρωτεύουσα της Ελλάδας"}


def test_answer_boundaries_off_token_edges(tokenizer):
    def label(answer_start, text):
        ex = batch([("x", ENGLISH, "what is the capital ?", "Paris")])
        ex["answers"] = [{"text": [text], "answer_start": [answer_start]}]
        feats = prepare_train_features(ex, tokenizer, MAX_LEN, STRIDE)
        s, e = feats["start_positions"][0], feats["end_positions"][0]
        return span_text(tokenizer, ex, 0, s, e) if s else None

    paris = ENGLISH.index("Paris")
    # a leading space is not a token: the span is the word itself
    assert label(paris - 1, " Paris") == "Paris"
    # "Paris," is two tokens, both covered
    assert label(paris, "Paris,") == "Paris,"
    # an answer ending inside a word covers the whole token
    assert label(ENGLISH.index("Eiffel"), "Eiff") == "Eiffel"
    # a whitespace-only or empty answer cannot be labelled: CLS
    assert label(paris - 1, " ") is None
    assert label(paris, "") is None


def test_a_long_question_is_cut_so_that_windows_still_fit(tokenizer):
    context = "the cat sat on the mat " * 20
    examples = batch([("q", context, " ".join(["why"] * 200), "mat")])
    features = prepare_train_features(examples, tokenizer, max_length=48, doc_stride=16)
    assert len(features["input_ids"]) > 1 and all(len(ids) == 48 for ids in features["input_ids"])
