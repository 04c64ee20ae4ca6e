"""A PEFT user's script: a PeftModel in a plain transformers.Trainer with UnfreezeCallback(backend="peft-lora").
Units stay bit-identical until their step, the base model's weights never move, save_pretrained keeps every
unit's training and reloads; two processes (torchrun, gloo) unfreeze alike and end with identical weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("peft")  # the plugin's dependency (setup.sh installs it; `pip install -e plugins/unfreeze-peft`)

import torch  # noqa: E402
from transformers import DataCollatorWithPadding, Trainer

from peft_fixtures import tiny_dataset, tiny_peft_classifier, training_args, weights
from unfreeze_core.integrations.transformers import UnfreezeCallback
from unfreeze_core.testing import unit_snapshots


@pytest.mark.parametrize("backend,method", [("peft-lora", "lora"), ("peft-ia3", "ia3")])
def test_a_peft_model_in_a_plain_trainer_unfreezes_unit_by_unit(tmp_path, backend, method):
    model, tokenizer = tiny_peft_classifier(method=method)
    base = weights((n, p) for n, p in model.named_parameters() if "base_layer" in n or "lora_" not in n
                   and "ia3_l" not in n and "classifier" not in n)
    callback = UnfreezeCallback(model, backend=backend, selector="fisher", k=2,
                                fisher_every=4, fisher_batches=2)
    snaps = unit_snapshots(callback.units)
    trainer = Trainer(model=model, args=training_args(tmp_path / "out", max_steps=9),
                      train_dataset=tiny_dataset(tokenizer), data_collator=DataCollatorWithPadding(tokenizer),
                      callbacks=[snaps])
    callback.add_to(trainer)
    trainer.train()
    events = callback.schedule.events
    assert sorted(u for e in events for u in e["units"]) == [0, 1, 2, 3]
    assert all("scores" in e for e in events[:-1])  # FUN scored the units with exact on PEFT's layers
    assert snaps.moved_while_frozen(events) == []  # bit-identical until the unit's step (weight decay on)
    assert snaps.moved_after(events) == [0, 1, 2, 3]  # each moved once unfrozen (the last at step 6 of 9)
    after = dict(model.named_parameters())
    assert all(torch.equal(after[n], w) for n, w in base.items())  # the base model never trained
    out = tmp_path / "out"
    assert json.loads((out / "schedule.json").read_text()) == events
    assert json.loads((out / "unfreeze.json").read_text())["backend"] == backend
    assert (out / "fisher.jsonl").read_text().count("\n") == 3  # steps 0, 4, 8


def test_save_pretrained_keeps_every_unit_and_reloads(tmp_path):
    from peft import PeftModel

    model, tokenizer = tiny_peft_classifier()
    callback = UnfreezeCallback(model, backend="peft-lora", selector="topdown", k=2)
    trainer = Trainer(model=model, args=training_args(tmp_path / "out", max_steps=8),
                      train_dataset=tiny_dataset(tokenizer), data_collator=DataCollatorWithPadding(tokenizer))
    callback.add_to(trainer)
    trainer.train()
    model.save_pretrained(tmp_path / "adapter")
    inputs = tokenizer(["a premise"], ["a hypothesis"], return_tensors="pt")
    model.eval()
    expected = model(**inputs).logits
    reloaded = PeftModel.from_pretrained(_unwrapped_base(), tmp_path / "adapter")  # same seed: same base
    reloaded.eval()
    assert torch.allclose(reloaded(**inputs).logits, expected, atol=1e-6)


def _unwrapped_base():
    """The tiny classifier's base model as tiny_peft_classifier builds it, without PEFT."""
    from transformers import XLMRobertaForSequenceClassification

    from unfreeze_core.models import byte_tokenizer, tiny_config

    torch.manual_seed(0)
    config = tiny_config("tiny", byte_tokenizer())
    config.num_labels = 3
    return XLMRobertaForSequenceClassification(config)


def test_two_processes_unfreeze_alike_and_end_with_identical_weights(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", free_port(), str(Path(__file__).with_name("peft_ddp_worker.py")), str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["world"] == 2
    assert len(rank0["events"]) == 4 and rank0["events"] == rank1["events"]
    assert all("scores" in e for e in rank0["events"][:-1])  # decided on rank 0, broadcast
    assert rank0["weights"] == rank1["weights"]
    assert rank0["moved_while_frozen"] == rank1["moved_while_frozen"] == []
    assert rank0["base_moved"] == rank1["base_moved"] == []


def free_port() -> str:
    """A free TCP port on 127.0.0.1 for this launch's rendezvous (fixed ports collide under pytest-xdist)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])
