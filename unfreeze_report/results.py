"""Reading many ``results.json`` files and aggregating them over seeds, one row per cell.

A cell is what ``results.json``'s ``settings`` say: the run's identity (``unfreeze_core.identity``: every
resolved option, plugin versions, data and model hashes; no seed), written by ``unfreeze run``. An older
``results.json`` without them is identified by its run folder's ``config.yaml``, and failing that by task,
model, adapter and selector; an older one's settings hold the options given, not the defaults, so it is a row
of its own beside a new run of the same configuration. Rows never mix runs of different settings; the
settings that differ between the rows are what a table shows as columns.

The same run found twice (equal settings and seed in two folders, e.g. a copied sweep) with the same scores
counts once, and a note names both folders. With *different* scores it is a conflict, never averaged nor
dropped in silence: ``load_results`` refuses, naming both folders newest first (by the time each results.json
was written), unless ``keep_newest``: then the newest is kept and a note names the one left out.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from unfreeze_core.errors import UnfreezeError, first_line
from unfreeze_core.rundir import RunDir, results_files
from unfreeze_core.identity import without_unused
from unfreeze_core.results import cell_settings, fingerprint

NAMED = ("task", "model", "adapter", "selector")
"""Settings every table shows by name; the other settings that differ become extra columns."""

MAX_SEED = 2**32 - 1
UNREADABLE = (UnfreezeError, OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError,
              IndexError, RecursionError, OverflowError)
"""What a folder's content can raise while it is read: the folder is skipped and named, never a crash."""


MAX_VALUE = 1e100
"""No score, loss or tr(F) is larger: beyond it (1e308) a mean or a std would overflow, so the file is not a run's."""


def finite(value) -> bool:
    """A number (not a bool), finite and at most MAX_VALUE in size."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and abs(value) <= MAX_VALUE


def read_json(path: Path):
    """A JSON file; unreadable, invalid or absurdly nested content is one line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise UnfreezeError(f"{path}: JSON nested too deeply") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UnfreezeError(f"{path}: not readable JSON ({first_line(exc)})") from None


def _settings_from_config(folder: Path) -> dict | None:
    """An older run's cell settings, from the ``config.yaml`` next to its ``results.json``."""
    path = RunDir(folder).config
    if not path.is_file():
        return None
    from unfreeze_core.config import read_yaml

    try:
        values = read_yaml(path)
    except RecursionError:
        raise UnfreezeError(f"{path}: YAML nested too deeply") from None
    except UnfreezeError as exc:  # read_yaml's line names the file as "config file PATH ..."
        raise UnfreezeError(f"{path}: {first_line(exc).replace(f'config file {path} ', '')}") from None
    options = values.get("options")
    if options is not None and not (isinstance(options, dict) and all(isinstance(v, (dict, type(None)))
                                                                       for v in options.values())):
        raise UnfreezeError(f"{path}: 'options' must map plugin kinds to settings")
    return cell_settings(values)


def read_result(path: str | Path) -> dict:
    """One results.json, checked to hold what ``aggregate`` reads (finite scores, an integer seed, the cell's
    settings as a mapping); anything else is one line. Adds ``folder``, ``settings`` and ``fingerprint``."""
    path = Path(path)
    result = read_json(path)
    if not isinstance(result, dict):
        raise UnfreezeError(f"{path}: expected a JSON object")
    for key in ("task", "adapter", "selector", "metric"):
        if not isinstance(result.get(key), str):
            raise UnfreezeError(f"{path}: {key!r} is missing or not text")
    if result.get("model") is not None and not isinstance(result["model"], str):
        raise UnfreezeError(f"{path}: 'model' is not text")
    seed = result.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise UnfreezeError(f"{path}: 'seed' is missing or not an integer in 0..2**32-1")
    scores = result.get("scores")
    if not isinstance(scores, dict) or not scores or not all(isinstance(k, str) for k in scores):
        raise UnfreezeError(f"{path}: 'scores' must map languages to numbers")
    bad = next((lang for lang, v in scores.items() if not finite(v)), None)
    if bad is not None:
        raise UnfreezeError(f"{path}: the score of {bad!r} is not a finite number ({scores[bad]!r})")
    if result.get("avg_xling") is not None and not finite(result["avg_xling"]):
        raise UnfreezeError(f"{path}: 'avg_xling' is not a finite number")
    lowest = result.get("lowest")
    if lowest is not None and not (isinstance(lowest, dict) and finite(lowest.get("score"))):
        raise UnfreezeError(f"{path}: 'lowest' must be {{lang, score}} with a finite score")
    train = result.get("train_language")
    if train is not None and not isinstance(train, str):
        raise UnfreezeError(f"{path}: 'train_language' is not text")
    settings = result.get("settings")
    if settings is None:
        settings = _settings_from_config(path.parent)
    if settings is None:
        settings = {key: result.get(key, "?") for key in NAMED}
    if not isinstance(settings, dict):
        raise UnfreezeError(f"{path}: 'settings' must be a mapping of settings")
    settings = without_unused({**settings, **{key: result.get(key, settings.get(key, "?")) for key in NAMED}})
    result.setdefault("model", settings.get("model", "?"))
    result.setdefault("avg_xling", None)
    result.setdefault("lowest", None)
    result.update(folder=str(path.parent), settings=settings, fingerprint=fingerprint(settings))
    return result


def finished_at(result: dict) -> str:
    """When a run finished: the time its results.json was written (the last file a run writes), sortable text."""
    import time

    try:
        seconds = RunDir(result["folder"]).results.stat().st_mtime
    except (OSError, KeyError, TypeError):
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds * 1e6) % 1_000_000:06d}Z"


def _same_scores(a: dict, b: dict) -> bool:
    return a["scores"] == b["scores"] and a.get("avg_xling") == b.get("avg_xling")


def load_results(paths, skipped: list[str] | None = None, notes: list[str] | None = None,
                 keep_newest: bool = False) -> list[dict]:
    """Every results.json under the given files or folders, each run once. With ``skipped``, a corrupt or
    incomplete one is named there (``path: why``) and left out; without it, the first bad one is an
    UnfreezeError. A run found twice (same settings and seed) with the same scores is kept once and named in
    ``notes``; with different scores it is refused (UnfreezeError naming both folders, newest first), or with
    ``keep_newest`` the newest is kept and the other named in ``notes``."""
    files: dict[Path, None] = {}
    for path in map(Path, paths):
        found = [path] if path.is_file() else results_files(path)
        files.update((f.resolve(), None) for f in found)
    results: dict[tuple, dict] = {}
    for f in sorted(files):
        try:
            result = read_result(f)
        except UNREADABLE as exc:
            if skipped is None:
                raise UnfreezeError(first_line(exc)) from None
            skipped.append(first_line(exc) if isinstance(exc, UnfreezeError) else f"{f}: {first_line(exc)}")
            continue
        key = (result["fingerprint"], result["seed"])
        if key not in results:
            results[key] = result
            continue
        first = results[key]
        if _same_scores(first, result):
            if notes is not None:
                notes.append(f"the same run (same settings, seed {result['seed']}) is in {first['folder']} "
                             f"and {result['folder']}: counted once, from the first")
            continue
        newest, older = sorted((first, result), key=finished_at, reverse=True)
        both = f"{newest['folder']} (finished {finished_at(newest) or '?'}) and {older['folder']} " \
               f"(finished {finished_at(older) or '?'})"
        if not keep_newest:
            raise UnfreezeError(f"two runs with the same settings and seed {result['seed']} have different scores: "
                                f"{both}; remove one, or keep the newest with --keep-newest")
        if notes is not None:
            notes.append(f"conflict: the same settings and seed {result['seed']} with different scores in {both}: "
                         f"kept the newest, left out {older['folder']}")
        results[key] = newest
    return list(results.values())


def mean_std(values: list[float]) -> tuple[float, float] | None:
    """Mean and sample standard deviation (0 for one value); None for no values."""
    if not values:
        return None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def differing(settings: list[dict], leave_out=NAMED) -> list[str]:
    """The setting names whose values are not all equal across ``settings`` (a missing one counts as a value)."""
    keys = list(dict.fromkeys(k for s in settings for k in s if k not in leave_out))

    def value(s: dict, key: str) -> str | None:
        return json.dumps(s[key], sort_keys=True, default=str) if key in s else None

    return [k for k in keys if len({value(s, k) for s in settings}) > 1]


def show(value) -> str:
    """A setting's value as a table shows it."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(map(show, value))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _train_language(runs: list[dict]) -> str:
    """results.json names it; an older one did not, and every task then trained on English."""
    return next((r["train_language"] for r in runs if r.get("train_language")), "en")


def aggregate(results: list[dict]) -> list[dict]:
    """One row per cell (equal settings): per-language mean and std over seeds, the average without the train
    language and the lowest; ``settings`` (all of them) and ``per_seed`` (train language, avg, lowest)."""
    groups: dict[str, list[dict]] = {}
    for r in results:
        groups.setdefault(r["fingerprint"], []).append(r)
    rows = []
    for runs in groups.values():
        runs.sort(key=lambda r: r["seed"])
        first = runs[0]
        train = _train_language(runs)
        langs = list(dict.fromkeys(lang for r in runs for lang in r["scores"]))
        rows.append({
            "task": first["task"], "model": first.get("model") or "?", "adapter": first["adapter"],
            "selector": first["selector"], "metric": first["metric"], "train_language": train,
            "settings": first["settings"], "seeds": [r["seed"] for r in runs],
            "folders": [r.get("folder") for r in runs],
            "scores": {lang: mean_std([r["scores"][lang] for r in runs if lang in r["scores"]]) for lang in langs},
            "avg_xling": mean_std([r["avg_xling"] for r in runs if r["avg_xling"] is not None]),
            "lowest": mean_std([r["lowest"]["score"] for r in runs if r["lowest"]]),
            "per_seed": {r["seed"]: {"train": r["scores"].get(train),
                                     "avg_xling": r["avg_xling"],
                                     "lowest": r["lowest"]["score"] if r["lowest"] else None} for r in runs},
        })
    return sorted(rows, key=lambda row: (*(str(row[k]) for k in NAMED),
                                         json.dumps(row["settings"], sort_keys=True, default=str)))


def scale(metric: str) -> float:
    """Accuracy is stored in 0..1 and shown in percent; F1/EM are already 0..100."""
    return 100.0 if metric == "accuracy" else 1.0
