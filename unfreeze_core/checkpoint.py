"""Resumable checkpoints: trainable weights, optimizer, LR schedule, unfreezing schedule and RNG states.

Written atomically (temporary file, then rename) into the run directory, so a run that dies keeps
its last checkpoint and ``unfreeze run --resume RUN_DIR`` continues it to the same final weights.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

FILE = "checkpoint.pt"


def rng_state() -> dict:
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def trainable_state(model, names: set[str]) -> dict:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if n in names}


def params_state(model, params: list) -> dict:
    """The named state of ``params`` (the trainable ones: head and every unit) of ``model``."""
    ids = {id(p) for p in params}
    return trainable_state(model, {n for n, p in model.named_parameters() if id(p) in ids})


def save(run_dir: Path, **state) -> Path:
    import torch

    path = Path(run_dir) / FILE
    tmp = path.with_suffix(".tmp")
    torch.save({**state, "rng": rng_state()}, tmp)
    os.replace(tmp, path)
    return path


def load(run_dir: Path) -> dict | None:
    import torch

    path = Path(run_dir) / FILE
    return torch.load(path, weights_only=False) if path.is_file() else None
