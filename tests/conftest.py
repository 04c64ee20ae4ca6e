"""Shared fixtures: small NLI files in the hub schema, written per test session."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

# Tiny models: one intra-op thread is faster, and far faster on a busy 2-core machine.
# Set before torch is imported so subprocesses (CLI, torchrun) inherit it too.
os.environ.setdefault("OMP_NUM_THREADS", "1")

NOUNS = {"en": ["cat", "dog", "bird", "horse"], "de": ["Katze", "Hund", "Vogel", "Pferd"],
         "el": ["γάτα", "σκύλος", "πουλί", "άλογο"]}
VERBS = {"en": ("sleeps", "does not sleep"), "de": ("schläft", "schläft nicht"), "el": ("κοιμάται", "δεν κοιμάται")}


def nli_records(lang: str, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        a, b = rng.sample(range(4), 2)
        label = rng.randrange(3)
        yes, no = VERBS[lang]
        premise = f"{NOUNS[lang][a]} {yes} ."
        hypothesis = {0: premise, 1: f"{NOUNS[lang][b]} {yes} .", 2: f"{NOUNS[lang][a]} {no} ."}[label]
        records.append({"premise": premise, "hypothesis": hypothesis, "label": label})
    return records


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


@pytest.fixture(scope="session")
def nli_dir(tmp_path_factory) -> Path:
    """``<lang>/{train,validation,test}.jsonl`` in the XNLI schema for en, de and el."""
    root = tmp_path_factory.mktemp("nli")
    write_jsonl(root / "en" / "train.jsonl", nli_records("en", 200, 0))
    write_jsonl(root / "en" / "validation.jsonl", nli_records("en", 40, 1))
    for i, lang in enumerate(NOUNS):
        write_jsonl(root / lang / "test.jsonl", nli_records(lang, 40, 10 + i))
    return root


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DdpSuite:
    """The records of one ``tests/ddp_suite.py`` launch on 2 processes and one on 1 process."""

    def __init__(self, folder: Path):
        self.folder = folder

    def records(self, scenario: str, processes: int = 2) -> list[dict]:
        where = self.folder / f"p{processes}"
        log = where / "log.txt"
        assert (where / "ok").exists(), log.read_text()[-3000:] if log.exists() else "the launch did not run"
        return [json.loads((where / scenario / f"rank{r}.json").read_text()) for r in range(processes)]


DDP_SCENARIOS = {2: ["random", "random-no-rewrap", "fun", "batch", "eval"], 1: ["fun", "batch"]}


@pytest.fixture(scope="session")
def ddp_suite(tmp_path_factory, nli_dir) -> DdpSuite:
    """tests/ddp_suite.py's scenarios, launched once for the whole test session, also under pytest-xdist (the
    first worker to ask runs it, holding a file lock; the others read its records): one torchrun start (gloo,
    127.0.0.1) for every two-process check instead of one each."""
    import subprocess
    import sys

    from filelock import FileLock

    from task_fixtures import write_task

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this session
    folder = root / "ddp-suite"
    worker = str(Path(__file__).with_name("ddp_suite.py"))
    with FileLock(str(root / "ddp-suite.lock")):
        if not folder.exists():
            xnli = write_task("xnli", folder / "xnli", test=21)
            for processes, scenarios in DDP_SCENARIOS.items():
                where = folder / f"p{processes}"
                where.mkdir(parents=True)
                launcher = [sys.executable] if processes == 1 else [
                    sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
                    "--master_addr", "127.0.0.1", "--master_port", str(free_port())]
                done = subprocess.run([*launcher, worker, str(where), str(nli_dir), str(xnli), *scenarios],
                                      capture_output=True, text=True, timeout=400)
                (where / "log.txt").write_text(done.stdout + done.stderr)
                if done.returncode == 0:
                    (where / "ok").write_text("")
    return DdpSuite(folder)
