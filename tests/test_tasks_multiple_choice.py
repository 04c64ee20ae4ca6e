"""Multiple choice (COPA/XCOPA): template, [batch, 2, tokens] input, the head's [batch, 2] logits."""

from __future__ import annotations

import pytest
import torch
from task_fixtures import copa_records, write_jsonl

from unfreeze_core.api import TaskOptions
from unfreeze_core.models import load_model
from unfreeze_core.tasks.multiple_choice import XCOPA, first_segment


def test_template_and_shapes(tmp_path):
    records = copa_records("th", 5, 0)
    write_jsonl(tmp_path / "en" / "train.jsonl", copa_records("en", 6, 0))
    write_jsonl(tmp_path / "th" / "test.jsonl", records)
    task = XCOPA(TaskOptions(data_dir=str(tmp_path)))
    model, tok = load_model("tiny")
    rows = task.encode(task.load("th", "test"), tok)
    r = records[0]
    assert first_segment(r["premise"], r["question"]) == f"{r['premise']} {r['question']}"
    text = tok.decode(rows[0]["input_ids"][1])
    assert r["premise"] in text and r["question"] in text and r["choice2"] in text
    batch = task.collate(tok)(rows)
    assert batch["input_ids"].shape[:2] == (5, 2) and batch["labels"].tolist() == [x["label"] for x in records]
    task.add_head(model)
    model.train()
    out = model(**batch)
    assert out.logits.shape == (5, 2) and out.loss.requires_grad
    (logits,) = task.output_distributions(out)
    assert logits.shape == (5, 2)
    scores = task.evaluate(model, tok, "th", batch_size=2, device="cpu")
    with torch.no_grad():
        model.eval()
        expected = (model(**{k: v for k, v in batch.items() if k != "labels"}).logits.argmax(-1)
                    == batch["labels"]).float().mean().item()
    assert scores == pytest.approx({"accuracy": expected})
    assert task.kind == "multiple_choice" and task.metric == "accuracy"
