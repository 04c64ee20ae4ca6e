"""What a finished seed run writes into ``results.json``, and the group folder a run's seeds share.

``results.json`` records, besides the scores, the run's identity (``settings``, flat, without the seed:
``identity.run_identity``, every resolved option, versions, data and model hashes) and its ``fingerprint``,
so a reader never has to guess which runs are the same configuration. Reading and
aggregating many of them is ``unfreeze_report.results``.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

from .errors import UnfreezeError
from .grid import IGNORED_FOR_IDENTITY
from .identity import fingerprint  # noqa: F401  (results.fingerprint: unfreeze_report reads it from here)

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


def summarise(resolved: dict, seed: int, task, metrics: dict[str, dict[str, float]],
              identity: dict | None = None) -> dict:
    """results.json of one seed: the main metric per language, its cross-lingual average and minimum, and the
    settings that identify the run's cell. ``resolved`` is the run's settings (``RunConfig.as_dict()``), with
    at least task, model, adapter and selector; ``identity`` the run's identity (``identity.run_identity``:
    what ``unfreeze run`` records), else the settings given are all that is known (``cell_settings``)."""
    scores = {lang: m[task.metric] for lang, m in metrics.items()}
    xling = {lang: s for lang, s in scores.items() if lang != task.train_language}
    lowest = min(xling.items(), key=lambda kv: kv[1]) if xling else None
    settings = cell_settings(resolved) if identity is None else identity
    return {
        **{key: resolved[key] for key in ("task", "model", "adapter", "selector")}, "seed": seed,
        "metric": task.metric, "train_language": task.train_language, "scores": scores,
        "avg_xling": statistics.fmean(xling.values()) if xling else None,
        "lowest": {"lang": lowest[0], "score": lowest[1]} if lowest else None,
        "all_metrics": metrics,
        "settings": settings, "fingerprint": fingerprint(settings),
    }


def existing_group(output_dir: str | Path, name: str, identity_fingerprint: str, seeds) -> Path | None:
    """The group folder of an earlier run of the same identity, to put new seeds beside its seeds: ``name`` or
    ``name-N`` under ``output_dir`` (lowest N first) holding a finished seed whose results.json has this
    ``fingerprint`` and none of ``seeds``' folders (a seed run again goes to a new group). None: no such folder."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    pattern = re.compile(re.escape(name) + r"(?:-(\d+))?")
    found = []
    for path in output_dir.iterdir():
        match = pattern.fullmatch(path.name)
        if match and path.is_dir():
            found.append((int(match.group(1) or 1), path))
    for _, group in sorted(found):
        if any((group / f"seed{seed}").exists() for seed in seeds):
            continue
        for results in sorted(group.glob("seed*/results.json")):
            try:
                recorded = json.loads(results.read_text(encoding="utf-8")).get("fingerprint")
            except (OSError, ValueError, AttributeError):
                continue
            if recorded == identity_fingerprint:
                return group
    return None


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
