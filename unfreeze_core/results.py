"""What a finished seed run writes into ``results.json``, and the group folder a run's seeds share.

``results.json`` records, besides the scores, the settings that identify the run's cell (``settings``,
flat, without the seed) and their ``fingerprint``, so a reader never has to guess which runs are the same
configuration. Reading and aggregating many of them is ``unfreeze_report.results``.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

from .errors import UnfreezeError
from .grid import IGNORED_FOR_IDENTITY

NOT_CELL_SETTINGS = (*IGNORED_FOR_IDENTITY, "seeds")
"""Bookkeeping (where a run is written, how often it logs or checkpoints, threads) and the seed: not what a cell is."""


def cell_settings(values: dict) -> dict:
    """The resolved settings that identify a run's cell, flat: plugin options as ``kind.name``
    (``task.train_limit``), values as JSON gives them back. Two runs with equal cell settings and the same
    seed are the same run."""
    flat = {}
    for key, value in values.items():
        if key in NOT_CELL_SETTINGS:
            continue
        if key == "options" and isinstance(value, dict):
            for kind, options in value.items():
                for name, option in (options or {}).items():
                    flat[f"{kind}.{name}"] = option
        else:
            flat[str(key)] = value
    return json.loads(json.dumps(flat, default=str))


def fingerprint(settings: dict) -> str:
    """A short hash of cell settings: equal settings, equal fingerprint."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def summarise(resolved: dict, seed: int, task, metrics: dict[str, dict[str, float]]) -> dict:
    """results.json of one seed: the main metric per language, its cross-lingual average and minimum, and the
    settings that identify the run's cell. ``resolved`` is the run's settings (``RunConfig.as_dict()``), with
    at least task, model, adapter and selector."""
    scores = {lang: m[task.metric] for lang, m in metrics.items()}
    xling = {lang: s for lang, s in scores.items() if lang != task.train_language}
    lowest = min(xling.items(), key=lambda kv: kv[1]) if xling else None
    settings = cell_settings(resolved)
    return {
        **{key: resolved[key] for key in ("task", "model", "adapter", "selector")}, "seed": seed,
        "metric": task.metric, "train_language": task.train_language, "scores": scores,
        "avg_xling": statistics.fmean(xling.values()) if xling else None,
        "lowest": {"lang": lowest[0], "score": lowest[1]} if lowest else None,
        "all_metrics": metrics,
        "settings": settings, "fingerprint": fingerprint(settings),
    }


def new_group_dir(output_dir: str | Path, name: str) -> Path:
    """Make and return ``output_dir/name``, or ``name-2``, ``name-3`` ... so an earlier run is never
    overwritten; the folder is created exclusively, so two runs started together never share one."""
    output_dir = Path(output_dir)
    n = 1
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        while True:
            candidate = output_dir / (name if n == 1 else f"{name}-{n}")
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                n += 1
    except OSError as exc:
        raise UnfreezeError(f"cannot make a run folder in {output_dir}: {exc.strerror or exc}") from None
