"""Your own loop (``unfreeze_core.integrations.loop.Unfreezing``), checked as a user would: units bit-identical
until their step in a plain PyTorch loop, the optimizer's groups, the refusals, and docs/examples/own_loop.py run
as written: stopped, resumed from its own checkpoint, ending as the unbroken run to the bit; two processes
(torchrun, gloo, the model in DDP) unfreeze alike."""

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import DataCollatorWithPadding

from hf_fixtures import tiny_classifier, tiny_dataset
from unfreeze_core.errors import UnfreezeError
from unfreeze_core.integrations.loop import Unfreezing
from unfreeze_core.testing import unit_snapshots

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "own_loop.py"


def test_a_plain_loop_keeps_each_unit_bit_identical_until_its_step():
    model, tokenizer = tiny_classifier()
    data, collate = tiny_dataset(tokenizer, n=72), DataCollatorWithPadding(tokenizer)
    unfreezing = Unfreezing(model, selector="fisher", k=2, fisher_batches=1, seed=2, train_dataset=data,
                            collate_fn=collate, batch_size=8)
    head = [p for n, p in model.named_parameters() if n.startswith("classifier")]
    optimizer = torch.optim.AdamW(unfreezing.param_groups(head, weight_decay=0.1), lr=1e-2)
    unfreezing.check_optimizer(optimizer)
    unfreezing.freeze(steps=9)
    assert [p.requires_grad for p in unfreezing.unit_params].count(True) == 0  # nothing unfrozen before step 0
    snaps = unit_snapshots(unfreezing.units)
    snaps.record(0)
    for step in range(9):
        unfreezing.advance(step)
        batch = collate([data[i] for i in range(step * 8, step * 8 + 8)])
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        snaps.record(step + 1)
    events = unfreezing.events
    assert [e["step"] for e in events] == [0, 2, 4, 6] and all("scores" in e for e in events[:-1])
    assert snaps.moved_while_frozen(events) == []  # weight decay on: AdamW skips a unit without grad
    assert snaps.moved_after(events) == [0, 1, 2, 3]


def test_an_optimizer_without_the_units_and_a_foreign_state_are_refused():
    model, _ = tiny_classifier()
    for _, p in model.named_parameters():  # the trap: an optimizer built while the units were frozen
        p.requires_grad_(False)
    model.classifier.out_proj.weight.requires_grad_(True)
    early = torch.optim.AdamW([model.classifier.out_proj.weight])
    unfreezing = Unfreezing(model, selector="topdown", k=2)
    with pytest.raises(UnfreezeError, match=r"the optimizer does not hold units \[0, 1, 2, 3\]"):
        unfreezing.check_optimizer(early)
    other = Unfreezing(model, selector="topdown", k=3)
    with pytest.raises(UnfreezeError, match="made with k=3, this run has k=2"):
        unfreezing.load_state_dict(other.state_dict())
    with pytest.raises(UnfreezeError, match="the budget of 6 steps is too short .* needs at least 7 steps"):
        unfreezing.freeze(steps=6)  # top-down, k 2, 4 units: the last unit is unfrozen at step 6


def run_example(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), *map(str, args)])
    runpy.run_path(str(EXAMPLE), run_name="__main__")


def test_the_example_stops_resumes_from_its_checkpoint_and_ends_as_the_unbroken_run(tmp_path, monkeypatch, capsys):
    run_example(monkeypatch, tmp_path / "whole", "--steps", 40)
    run_example(monkeypatch, tmp_path / "broken", "--steps", 40, "--until", 20)
    assert torch.load(tmp_path / "broken" / "checkpoint.pt")["step"] == 20
    run_example(monkeypatch, tmp_path / "broken", "--steps", 40)  # run again: it resumes
    assert "resumed at step 20" in capsys.readouterr().out
    whole, resumed = (torch.load(tmp_path / name / "checkpoint.pt") for name in ("whole", "broken"))
    assert whole["step"] == resumed["step"] == 40
    assert all(torch.equal(whole["model"][n], resumed["model"][n]) for n in whole["model"])
    assert whole["unfreeze"] == resumed["unfreeze"]
    events = json.loads((tmp_path / "broken" / "schedule.json").read_text())
    assert [e["step"] for e in events] == [0, 5, 10, 15, 20, 25, 30, 35] and "scores" in events[0]
    assert sorted(u for e in events for u in e["units"]) == list(range(8))


def test_two_processes_with_ddp_unfreeze_alike_and_end_with_identical_weights(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", free_port(), str(Path(__file__).with_name("own_loop_ddp_worker.py")), str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["world"] == 2 and len(rank0["events"]) == 4 and rank0["events"] == rank1["events"]
    assert all("scores" in e for e in rank0["events"][:-1])  # decided on rank 0, broadcast
    assert rank0["weights"] == rank1["weights"]
    assert rank0["moved_while_frozen"] == rank1["moved_while_frozen"] == []  # weight decay on
    assert rank0["moved_after"] == [0, 1, 2, 3]


def free_port() -> str:
    """A free TCP port on 127.0.0.1 for this launch's rendezvous (fixed ports collide under pytest-xdist)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])
