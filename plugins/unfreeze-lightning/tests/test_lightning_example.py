"""docs/examples/lightning_finetuning.py runs as written and resumes from its own Lightning checkpoint to the bit;
on two processes (strategy="ddp", gloo, launched by Lightning) both ranks unfreeze alike and no frozen unit moves."""

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "lightning_finetuning.py"


def run_example(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), *map(str, args)])
    runpy.run_path(str(EXAMPLE), run_name="__main__")


def test_the_example_runs_and_resumes_from_its_checkpoint_to_the_bit(tmp_path, monkeypatch, capsys):
    run_example(monkeypatch, tmp_path / "whole", "--steps", 40)
    printed = capsys.readouterr().out
    assert printed.count("unfroze unit") == 8  # every unit of the 8-layer encoder, one every 5 steps
    [schedule] = (tmp_path / "whole").rglob("schedule.json")
    events = json.loads(schedule.read_text())
    assert [e["step"] for e in events] == [0, 5, 10, 15, 20, 25, 30, 35] and "scores" in events[0]
    assert len((schedule.parent / "fisher.jsonl").read_text().splitlines()) == 2  # steps 0 and 20
    run_example(monkeypatch, tmp_path / "resumed", "--steps", 40,
                "--resume", tmp_path / "whole" / "checkpoints" / "epoch=0-step=20.ckpt")
    whole, resumed = (torch.load(tmp_path / name / "checkpoints" / "epoch=1-step=40.ckpt", weights_only=True)
                      for name in ("whole", "resumed"))
    assert whole["callbacks"]["UnfreezeFinetuning"] == resumed["callbacks"]["UnfreezeFinetuning"]
    assert whole["state_dict"].keys() == resumed["state_dict"].keys()
    assert all(torch.equal(whole["state_dict"][n], resumed["state_dict"][n]) for n in whole["state_dict"])


def test_the_example_on_two_processes_unfreezes_alike_and_ends_with_identical_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": free_port()}
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("lightning_ddp_worker.py")), str(tmp_path)],
                          capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("unfroze unit") == 8  # printed by rank 0 only
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["world"] == 2 and rank0["find_unused"] is True  # strategy="ddp": set by the callback
    assert len(rank0["events"]) == 8 and rank0["events"] == rank1["events"]
    assert all("scores" in e for e in rank0["events"][:-1])  # decided on rank 0, broadcast
    assert [e["step"] for e in rank0["events"]] == list(range(0, 16, 2))  # --k 2
    assert rank0["tracked"] == rank1["tracked"] == 1  # tr(F) at step 0 (every 20 steps) on both ranks
    assert rank0["weights"] == rank1["weights"]
    assert rank0["moved_while_frozen"] == rank1["moved_while_frozen"] == []  # weight decay on
    assert rank0["moved_after"] == list(range(8))  # each moved once unfrozen (the last at step 14 of 16)


def free_port() -> str:
    """A free TCP port on 127.0.0.1 for this launch's rendezvous (fixed ports collide under pytest-xdist)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])
