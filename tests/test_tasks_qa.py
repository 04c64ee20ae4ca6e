"""Extractive QA: features, the ŷ distributions, and F1/EM of the evaluation on held, hand-computed cases."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from task_fixtures import squad_records, write_jsonl

from unfreeze_core.models import byte_tokenizer
from unfreeze_core.tasks.qa import MLQA, XQuAD, QAOptions
from unfreeze_core.tasks.qa_processing import prepare_train_features


class Oracle(torch.nn.Module):
    """Puts the start/end logit peaks on the gold span of every window it has seen in training features."""

    def __init__(self, examples, tokenizer, max_length, doc_stride, shift_end=0):
        super().__init__()
        feats = prepare_train_features(examples, tokenizer, max_length, doc_stride)
        self.spans = {tuple(ids[:sum(mask)]): (s, e + shift_end) for ids, mask, s, e in  # batches drop padding
                      zip(feats["input_ids"], feats["attention_mask"], feats["start_positions"], feats["end_positions"])}

    def forward(self, input_ids, attention_mask, **_):
        start = torch.zeros(input_ids.shape)
        end = torch.zeros(input_ids.shape)
        for row, (ids, mask) in enumerate(zip(input_ids.tolist(), attention_mask.tolist())):
            s, e = self.spans[tuple(ids[:sum(mask)])]
            start[row, s] = end[row, e] = 10.0
        return SimpleNamespace(start_logits=start, end_logits=end)


def qa_task(cls, folder, **options):
    return cls(QAOptions(data_dir=str(folder), **options))


@pytest.mark.parametrize("lang", ["el", "th", "ar", "zh"])
def test_oracle_spans_map_back_to_the_gold_text(tmp_path, lang):
    records = squad_records(lang, 6, 3)
    write_jsonl(tmp_path / lang / "test.jsonl", records)
    task = qa_task(XQuAD, tmp_path, max_length=64, doc_stride=16)  # long contexts span several windows
    tok = byte_tokenizer()
    examples = {k: [r[k] for r in records] for k in records[0]}
    model = Oracle(examples, tok, 64, 16)
    assert task.evaluate(model, tok, lang, batch_size=4, device="cpu") == {"f1": 100.0, "exact_match": 100.0}


def test_hand_computed_f1_and_em(tmp_path):
    """Three English questions: exact (EM 1, F1 1), 'the big cat' vs gold 'cat' (articles dropped:
    'big cat' vs 'cat': P=1/2, R=1, F1=2/3, EM 0), and a wrong answer (0, 0): F1 = 100*(1+2/3)/3."""
    records = [
        {"id": "q1", "context": "The dog sleeps.", "question": "Who sleeps?",
         "answers": {"text": ["dog"], "answer_start": [4]}},
        {"id": "q2", "context": "the big cat eats.", "question": "Who eats?",
         "answers": {"text": ["cat"], "answer_start": [8]}},
        {"id": "q3", "context": "A bird sings.", "question": "Who sings?",
         "answers": {"text": ["bird"], "answer_start": [2]}},
    ]
    write_jsonl(tmp_path / "en" / "test.jsonl", records)
    task = qa_task(MLQA, tmp_path)
    held = {"q1": "dog", "q2": "the big cat", "q3": "sings"}
    task.predict = lambda *a, **k: held
    scores = task.evaluate(None, byte_tokenizer(), "en", batch_size=2, device="cpu")
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)


def test_hand_computed_chinese_characters(tmp_path):
    """zh is scored per character: prediction '小猫' vs gold '猫': P=1/2, R=1 -> F1 2/3, EM 0."""
    write_jsonl(tmp_path / "zh" / "test.jsonl", [
        {"id": "z", "context": "小猫睡觉", "question": "谁睡觉？", "answers": {"text": ["猫"], "answer_start": [1]}}])
    task = qa_task(XQuAD, tmp_path)
    task.predict = lambda *a, **k: {"z": "小猫"}
    assert task.evaluate(None, byte_tokenizer(), "zh", batch_size=2, device="cpu") == pytest.approx(
        {"f1": 100 * 2 / 3, "exact_match": 0.0})


def test_span_past_the_answer_gets_partial_credit(tmp_path):
    """End moved 7 bytes on: 'cat' -> 'cat sleeps' (byte tokens, one window): P=1/2, R=1, F1=2/3, EM 0."""
    records = squad_records("en", 4, 5)
    write_jsonl(tmp_path / "en" / "test.jsonl", records)
    task = qa_task(XQuAD, tmp_path, max_length=128, doc_stride=32)
    tok = byte_tokenizer()
    examples = {k: [r[k] for r in records] for k in records[0]}
    scores = task.evaluate(Oracle(examples, tok, 128, 32, shift_end=7), tok, "en", batch_size=4, device="cpu")
    assert scores == pytest.approx({"f1": 200 / 3, "exact_match": 0.0})


def test_train_features_and_distributions(tmp_path):
    write_jsonl(tmp_path / "en" / "train.jsonl", squad_records("en", 5, 1))
    task = qa_task(XQuAD, tmp_path, max_length=48, doc_stride=16)
    tok = byte_tokenizer()
    rows = task.train_dataset(tok)
    assert len(rows) >= 5 and {"input_ids", "attention_mask", "start_positions", "end_positions"} <= set(rows[0])
    batch = task.collate(tok)(rows[:3])
    assert batch["input_ids"].shape == (3, 48)
    out = SimpleNamespace(start_logits=torch.zeros(3, 48), end_logits=torch.ones(3, 48))
    start, end = task.output_distributions(out)
    assert start.shape == end.shape == (3, 48)
    assert task.metric == "f1" and task.kind == "extractive_qa"


def test_defaults_follow_the_paper():
    options = QAOptions()
    assert (options.max_length, options.doc_stride) == (384, 128)
    with pytest.raises(ValueError):
        QAOptions(max_length=64, doc_stride=64)
