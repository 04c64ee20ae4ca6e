"""Small world grids for the sweep and launcher tests: short budgets, tiny evaluation."""

from __future__ import annotations

from pathlib import Path

import yaml


def world_grid(tmp_path: Path, name: str = "g", selectors=("standard", "topdown"), seeds=(1, 2), steps: int = 10,
               **extra) -> Path:
    grid = {"name": name, "task": "nli", "model": "world", "adapter": "madx", "steps": steps, "lr": 1e-3,
            "batch_size": 8, "threads": 1, "log_every": 5, "checkpoint_every": 5, "seeds": list(seeds),
            "options": {"task": {"eval_limit": 8, "train_limit": 64, "languages": ["en", "qa"]}},
            "axes": {"selector": {s: ({} if s == "standard" else {"k": 1}) for s in selectors}}, **extra}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(grid, sort_keys=False))
    return path
