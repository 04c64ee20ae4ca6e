"""Run directories, results.json, and aggregation of many runs into the paper's Table 1 shape."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from .errors import UnfreezeError, first_line
from .rundir import results_files


def summarise(config, seed: int, task, metrics: dict[str, dict[str, float]]) -> dict:
    """results.json of one seed: the main metric per language, its cross-lingual average and minimum."""
    scores = {lang: m[task.metric] for lang, m in metrics.items()}
    xling = {lang: s for lang, s in scores.items() if lang != task.train_language}
    lowest = min(xling.items(), key=lambda kv: kv[1]) if xling else None
    return {
        "task": config.task, "model": config.model, "adapter": config.adapter, "selector": config.selector, "seed": seed,
        "metric": task.metric, "scores": scores,
        "avg_xling": statistics.fmean(xling.values()) if xling else None,
        "lowest": {"lang": lowest[0], "score": lowest[1]} if lowest else None,
        "all_metrics": metrics,
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


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_result(path: str | Path) -> dict:
    """One results.json, checked to hold what ``aggregate`` reads; anything else is one line."""
    path = Path(path)
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UnfreezeError(f"{path}: not readable JSON ({first_line(exc)})") from None
    if not isinstance(result, dict):
        raise UnfreezeError(f"{path}: expected a JSON object")
    for key in ("task", "adapter", "selector", "metric"):
        if not isinstance(result.get(key), str):
            raise UnfreezeError(f"{path}: {key!r} is missing or not text")
    if not isinstance(result.get("seed"), int):
        raise UnfreezeError(f"{path}: 'seed' is missing or not an integer")
    scores = result.get("scores")
    if not isinstance(scores, dict) or not scores or not all(_number(v) for v in scores.values()):
        raise UnfreezeError(f"{path}: 'scores' must map languages to numbers")
    if result.get("avg_xling") is not None and not _number(result["avg_xling"]):
        raise UnfreezeError(f"{path}: 'avg_xling' is not a number")
    lowest = result.get("lowest")
    if lowest is not None and not (isinstance(lowest, dict) and _number(lowest.get("score"))):
        raise UnfreezeError(f"{path}: 'lowest' must be {{lang, score}}")
    result.setdefault("avg_xling", None)
    result.setdefault("lowest", None)
    return result


def load_results(paths, skipped: list[str] | None = None) -> list[dict]:
    """Every results.json under the given files or folders. With ``skipped``, a corrupt or incomplete one
    is named there (``path: why``) and left out; without it, the first bad one is an UnfreezeError."""
    found = []
    for path in map(Path, paths):
        files = [path] if path.is_file() else results_files(path)
        for f in files:
            try:
                found.append(read_result(f))
            except UnfreezeError as exc:
                if skipped is None:
                    raise
                skipped.append(str(exc))
    return found


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def aggregate(results: list[dict]) -> list[dict]:
    """One row per (task, model, adapter, selector): per-language mean and std over seeds, avg and lowest."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["task"], r.get("model", "?"), r["adapter"], r["selector"]), []).append(r)
    rows = []
    for (task, model, adapter, selector), runs in sorted(groups.items()):
        langs = list(runs[0]["scores"])
        row = {"task": task, "model": model, "adapter": adapter, "selector": selector, "metric": runs[0]["metric"],
               "seeds": sorted(r["seed"] for r in runs),
               "scores": {lang: mean_std([r["scores"][lang] for r in runs if lang in r["scores"]]) for lang in langs},
               "avg_xling": mean_std([r["avg_xling"] for r in runs if r["avg_xling"] is not None] or [float("nan")]),
               "lowest": mean_std([r["lowest"]["score"] for r in runs if r["lowest"]] or [float("nan")])}
        rows.append(row)
    return rows


def scale(metric: str) -> float:
    """Accuracy is stored in 0..1 and shown in percent; F1/EM are already 0..100."""
    return 100.0 if metric == "accuracy" else 1.0
