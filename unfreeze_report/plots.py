"""Figures of run directories: loss, tr(F) per trainable unit, the unfreezing schedule, results.

Every figure is one PNG. Runs of one cell (equal settings, seeds apart) are one line: the mean over seeds with
a shaded band of ±1 std; lines of a panel that differ in more than the selector name the differing settings.
matplotlib (the ``plot`` extra, Agg backend) and numpy are imported inside functions, so importing this module
stays cheap and works without them. A run folder whose files are corrupt, tampered or of the wrong types is
skipped and named; the figures are written whole, all of them or none.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from unfreeze_core.errors import UnfreezeError, first_line
from unfreeze_core.rundir import RUN_FILES, RunDir

from .results import NAMED, UNREADABLE, differing, finite, read_json, show

_RUN_NAME = re.compile(r"^(?P<task>[^-]+)-(?P<adapter>.+)-(?P<selector>[^-]+)$")
_SEED = re.compile(r"^seed(\d+)$")
MAX_STEP = 10**12
MAX_UNITS = 10_000
"""Beyond these a log or schedule is not a run's (1e308 steps, 10**9 units): the folder is skipped."""
INSTALL = "unfreeze plot needs matplotlib: pip install 'unfreeze[plot]'"


@dataclass
class Run:
    """What one run directory holds, read once."""

    path: Path
    task: str
    adapter: str
    model: str
    selector: str
    seed: int
    steps: int | None
    losses: list[tuple[int, float]]
    fisher: list[dict]
    schedule: list[dict]
    validation: list[tuple[int, float]] = field(default_factory=list)
    """(step, main metric on the train language's validation split)."""
    results: dict | None = None
    config: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    """The cell's settings (results.json's, else config.yaml's): runs are averaged only when these are equal."""

    @property
    def group(self) -> tuple:
        return (self.task, self.model, self.adapter, self.selector, json.dumps(self.settings, sort_keys=True))

    @property
    def setup(self) -> str:
        """What a panel shows: runs of one task, model and adapter backend."""
        return f"{self.task} / {self.model} / {self.adapter}"

    @property
    def last_step(self) -> int:
        candidates = [self.steps or 0] + [s for s, _ in self.losses] + [f["step"] for f in self.fisher]
        candidates += [e["step"] for e in self.schedule]
        return max(candidates)

    @property
    def num_units(self) -> int:
        units = {int(u) for f in self.fisher for u in f["fisher"]}
        units |= {int(u) for e in self.schedule for u in e.get("units", [])}
        units |= {int(u) for e in self.schedule for u in (e.get("scores") or {})}
        return max(units) + 1 if units else 0


# ---------------------------------------------------------------- reading

def find_run_dirs(paths) -> list[Path]:
    """Run directories among PATHS: a folder holding any run file, or every such folder below it."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise UnfreezeError(f"no such file or folder: {path}")
        if path.is_file():
            path = path.parent
        if any((path / name).is_file() for name in RUN_FILES):
            found.append(path)
            continue
        below = {f.parent for name in RUN_FILES for f in path.rglob(name)}
        found.extend(sorted(below))
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise UnfreezeError(f"no run directories (log.jsonl, results.json ...) under {', '.join(map(str, paths))}")
    return unique


def _step(value) -> int:
    """A step number as logged: a whole number in 0..MAX_STEP (``5.0`` is 5; ``"5"``, 1e308, -3 are not)."""
    if not finite(value) or value != int(value) or not 0 <= value <= MAX_STEP:
        raise ValueError(f"step {value!r} is not a step number")
    return int(value)


def _value(value, what: str) -> float:
    if not finite(value):
        raise ValueError(f"{what} {value!r} is not a finite number (at most 1e100)")
    return float(value)


def _unit(value) -> int:
    """A unit index, given as an integer or (as JSON keys are) its decimal text."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_UNITS:
        raise ValueError(f"unit {value!r} is not a unit index")
    return value


def _scores(mapping, what: str) -> dict[str, float]:
    if not isinstance(mapping, dict):
        raise ValueError(f"{what} must map names to numbers")
    return {str(k): _value(v, what) for k, v in mapping.items()}


def _read_log(path: Path) -> tuple[list[tuple[int, float]], list[dict], list[tuple[int, dict]]]:
    losses, fisher, validation = [], [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as exc:
        raise UnfreezeError(f"cannot read {path}: {first_line(exc)}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            if "fisher" in record:
                values = {str(_unit(u)): v for u, v in _scores(record["fisher"], "tr(F)").items()}
                per = record.get("fisher_per_trainable")
                fisher.append({"step": _step(record["step"]), "fisher": values,
                               "per_trainable": math.nan if per is None else _value(per, "fisher_per_trainable")})
            elif "validation" in record:
                validation.append((_step(record["step"]), _scores(record["validation"], "validation score")))
            elif "loss" in record:
                losses.append((_step(record["step"]), _value(record["loss"], "loss")))
        except RecursionError:
            raise UnfreezeError(f"{path}:{number}: JSON nested too deeply") from None
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise UnfreezeError(f"{path}:{number}: not a log line ({first_line(exc)})") from None
    if not losses and not fisher:
        raise UnfreezeError(f"{path} has no loss or tr(F) lines")
    return losses, fisher, validation


def read_run(path: Path) -> Run:
    """One run directory; log.jsonl is required, the other files are used when present."""
    path = Path(path)
    folder = RunDir(path)
    if not folder.log.is_file():
        raise UnfreezeError(f"run folder {path} has no log.jsonl")
    losses, fisher, validation = _read_log(folder.log)
    config = {}
    if folder.config.is_file():
        from unfreeze_core.config import read_yaml

        config = read_yaml(folder.config) or {}
    if folder.results.is_file():
        from .results import read_result

        results = read_result(folder.results)
    else:
        results = None
    schedule = _read_schedule(folder.schedule) if folder.schedule.is_file() else []

    named = _RUN_NAME.match(path.parent.name)
    seed_dir = _SEED.match(path.name)

    def pick(key, default):
        if results and results.get(key) is not None:
            return results[key]
        if config.get(key) is not None:
            return config[key]
        if named and key in named.groupdict():
            return named[key]
        return default

    seed = results.get("seed") if results else None
    if seed is None:
        seeds = config.get("seeds")
        seed = seeds[0] if isinstance(seeds, list) and len(seeds) == 1 else config.get("seed")
    if seed is None:
        seed = int(seed_dir[1]) if seed_dir else 0
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2**32 - 1:
        raise UnfreezeError(f"{path}: seed {seed!r} is not a seed")
    steps = config.get("steps")
    steps = _step(steps) if finite(steps) and steps == int(steps) and 0 < steps <= MAX_STEP else None
    metric = (results or {}).get("metric") or _first_metric(validation)
    run = Run(path=path, task=str(pick("task", "?")), adapter=str(pick("adapter", "?")),
              model=str(pick("model", "?")),
              selector=str(pick("selector", path.name if not seed_dir else path.parent.name)),
              seed=seed, steps=steps,
              losses=sorted(losses), fisher=sorted(fisher, key=lambda f: f["step"]),
              schedule=sorted(schedule, key=lambda e: e["step"]), results=results, config=config,
              validation=[(s, v[metric]) for s, v in sorted(validation, key=lambda sv: sv[0]) if metric in v])
    run.settings = _settings(run)
    return run


def _settings(run: Run) -> dict:
    """The cell's settings: results.json's (or their config.yaml fallback), else config.yaml's, else the names."""
    if run.results is not None:
        return run.results["settings"]
    if run.config:
        from unfreeze_core.identity import without_unused
        from unfreeze_core.results import cell_settings

        settings = without_unused({**cell_settings(run.config), "selector": run.selector})
    else:
        settings = {}
    return {**settings, **{key: getattr(run, key) for key in NAMED}}


def _read_schedule(path: Path) -> list[dict]:
    """schedule.json: a list of {step, units, scores?}; wrong types or ranges are one line."""
    events = read_json(path)
    if not isinstance(events, list):
        raise UnfreezeError(f"{path}: expected a list of unfreeze events")
    checked = []
    for i, event in enumerate(events):
        try:
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
            units = event.get("units", [])
            if not isinstance(units, list):
                raise ValueError("'units' is not a list")
            scores = event.get("scores")
            checked.append({"step": _step(event.get("step")), "units": [_unit(u) for u in units],
                            **({} if scores is None else
                               {"scores": {str(_unit(u)): v for u, v in _scores(scores, "score").items()}})})
        except (ValueError, TypeError, OverflowError) as exc:
            raise UnfreezeError(f"{path}: event {i}: {first_line(exc)}") from None
    return checked


def _first_metric(validation: list[tuple[int, dict]]) -> str | None:
    """The main metric of validation lines when results.json is missing: accuracy or f1."""
    keys = validation[0][1] if validation else {}
    return next((k for k in ("accuracy", "f1") if k in keys), next(iter(keys), None))


def load_runs(paths, skipped: list[str] | None = None) -> list[Run]:
    """The runs under PATHS. With ``skipped``, a folder whose files are corrupt or incomplete (a refused or
    killed run) is named there and left out; without it, the first one is an UnfreezeError."""
    runs: dict[tuple, Run] = {}
    for folder in find_run_dirs(paths):
        try:
            run = read_run(folder)
        except UNREADABLE as exc:
            why = "nested too deeply" if isinstance(exc, RecursionError) else first_line(exc)
            if skipped is None:
                raise UnfreezeError(f"run folder {folder}: {why}") from None
            skipped.append(f"skipped run folder {folder}: {why}")
            continue
        first = runs.setdefault((run.group, run.seed), run)
        if first is not run and skipped is not None:
            skipped.append(f"the same run (same settings, seed {run.seed}) is in {first.path} and {run.path}: "
                           "counted once, from the first")
    if not runs and skipped:
        raise UnfreezeError(f"no usable run folder under {', '.join(map(str, paths))} ({skipped[0]})")
    return sorted(runs.values(), key=lambda r: (r.group, r.seed))


# ---------------------------------------------------------------- numbers

def moving_average(values, window: int):
    """Centered moving average that keeps the length (shorter windows at the edges); NaNs are skipped."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) < 2:
        return values
    half_lo, half_hi = (window - 1) // 2, window // 2
    out = np.empty_like(values)
    for i in range(len(values)):
        chunk = values[max(0, i - half_lo): i + half_hi + 1]
        chunk = chunk[~np.isnan(chunk)]
        out[i] = chunk.mean() if len(chunk) else np.nan
    return out


def mean_band(curves: list[tuple[list[int], list[float]]]):
    """Curves of several seeds -> (steps, mean, std) on the union of their steps (linear interpolation)."""
    import numpy as np

    grid = np.array(sorted({s for steps, _ in curves for s in steps}), dtype=float)
    stack = []
    for steps, values in curves:
        steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
        row = np.interp(grid, steps, values) if len(steps) > 1 else np.where(grid == steps[0], values[0], np.nan)
        row[(grid < steps.min()) | (grid > steps.max())] = np.nan
        stack.append(row)
    stack = np.vstack(stack)
    return grid, _nanmean(stack), _nanstd(stack)


def _nanmean(stack):
    import numpy as np

    total = np.nansum(stack, axis=0)
    count = (~np.isnan(stack)).sum(axis=0)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


def _nanstd(stack):
    import numpy as np

    mean = _nanmean(stack)
    count = (~np.isnan(stack)).sum(axis=0)
    sq = np.nansum((stack - mean) ** 2, axis=0)
    return np.sqrt(np.divide(sq, count - 1, out=np.zeros(sq.shape), where=count > 1))


# ---------------------------------------------------------------- drawing helpers

def require_matplotlib() -> None:
    """matplotlib is the ``plot`` extra: without it, one line saying what to install."""
    import importlib.util

    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise UnfreezeError(INSTALL)


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "font.size": 10, "axes.titlesize": 11, "axes.grid": True,
                         "grid.alpha": 0.3, "legend.fontsize": 9, "legend.framealpha": 0.85})
    return plt


def _colors(runs: list[Run]) -> dict[str, object]:
    """One color per selector, the same in every figure."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    selectors = sorted({r.selector for r in runs})
    return {s: cmap(i % 10) for i, s in enumerate(selectors)}


def _by(runs: list[Run], key) -> dict:
    groups: dict = {}
    for r in runs:
        groups.setdefault(key(r), []).append(r)
    return groups


def _panels(plt, n: int, width: float = 6.4, height: float = 4.2, ncols_max: int = 2):
    ncols = min(n, ncols_max)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _seeds_label(runs: list[Run]) -> str:
    return f"{len(runs)} seeds" if len(runs) > 1 else f"seed {runs[0].seed}"


def _label(selector: str, settings: dict, extra: list[str]) -> str:
    """A line's name: its selector, and the settings in which lines of one panel differ besides it (only those
    the line's run has: a setting its plugins do not use is not part of its identity, so it is not shown)."""
    shown = ", ".join(f"{k}={show(settings[k])}" for k in extra if k in settings)
    return f"{selector} [{shown}]" if shown else selector


def _lines(members: list[Run]) -> tuple[list[list[Run]], list[str]]:
    """A panel's runs as lines (one per cell, seeds together) and the settings that tell the lines apart."""
    groups = _by(members, lambda r: r.group)
    extra = differing([g[0].settings for g in groups.values()])
    return [groups[key] for key in sorted(groups)], extra


_STYLES = ("-", "--", ":", "-.")


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def _curve_figure(runs: list[Run], path: Path, curve, title: str, ylabel: str, band_note: str,
                  smooth: int = 1, log_y: bool = False) -> Path:
    """Lines per cell (mean over seeds, ±1 std band), one panel per (task, model, adapter)."""
    plt = _plt()
    colors = _colors(runs)
    panels = _by(runs, lambda r: r.setup)
    fig, axes = _panels(plt, len(panels))
    for ax, (setup, members) in zip(axes, sorted(panels.items())):
        lines, extra = _lines(members)
        seen: dict[str, int] = {}
        for group in lines:
            curves = [c for c in (curve(r) for r in group) if c and len(c[0])]
            if not curves:
                continue
            curves = [(steps, moving_average(values, smooth)) for steps, values in curves]
            grid, mean, std = mean_band(curves)
            selector = group[0].selector
            color = colors[selector]
            style = _STYLES[seen.setdefault(selector, 0) % len(_STYLES)]
            seen[selector] += 1
            ax.plot(grid, mean, color=color, lw=2, ls=style,
                    label=f"{_label(selector, group[0].settings, extra)} ({_seeds_label(group)})",
                    marker="o" if len(grid) < 12 else None, ms=3)
            if len(curves) > 1:
                ax.fill_between(grid, mean - std, mean + std, color=color, alpha=0.2, lw=0)
        ax.set_title(f"{title} — {setup}")
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        if log_y:
            ax.set_yscale("log")
        ax.legend(loc="best", title=band_note if len({r.seed for r in members}) > 1 else None,
                  title_fontsize=8)
    return _save(fig, path)


# ---------------------------------------------------------------- figures

def plot_loss(runs: list[Run], path: Path) -> Path:
    return _curve_figure(runs, path, lambda r: ([s for s, _ in r.losses], [v for _, v in r.losses]),
                         "Training loss", "loss (mean over log window)", "mean ± 1 std over seeds")


def plot_validation(runs: list[Run], path: Path) -> Path | None:
    tracked = [r for r in runs if r.validation]
    if not tracked:
        return None
    metric = (tracked[0].results or {}).get("metric", "score")
    return _curve_figure(tracked, path, lambda r: ([s for s, _ in r.validation], [v for _, v in r.validation]),
                         "Validation (train language)", metric, "mean ± 1 std over seeds")


def plot_fisher(runs: list[Run], path: Path, smooth: int = 1) -> Path | None:
    tracked = [r for r in runs if r.fisher]
    if not tracked:
        return None
    note = "mean ± 1 std over seeds" + (f", moving avg {smooth}" if smooth > 1 else "")
    return _curve_figure(tracked, path,
                         lambda r: ([f["step"] for f in r.fisher], [f["per_trainable"] for f in r.fisher]),
                         "tr(F) per trainable unit", "tr(F) / #trainable units", note, smooth=smooth)


def plot_fisher_units(runs: list[Run], path: Path, smooth: int = 1) -> Path | None:
    """Heat map unit × step of tr(F) for the first run that tracked it (a FUN run if there is one)."""
    import numpy as np
    from matplotlib.colors import LogNorm

    tracked = [r for r in runs if r.fisher]
    if not tracked:
        return None
    run = next((r for r in tracked if any(e.get("scores") for e in r.schedule)), tracked[0])
    units = list(range(run.num_units))
    steps = [f["step"] for f in run.fisher]
    grid = np.array([[float(f["fisher"].get(str(u), np.nan)) for f in run.fisher] for u in units])
    grid = np.vstack([moving_average(row, smooth) for row in grid]) if smooth > 1 else grid
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(7.0, min(14.0, 0.25 * len(steps) + 5)), max(3.5, 0.32 * len(units) + 1.8)))
    positive = grid[np.isfinite(grid) & (grid > 0)]
    norm = None
    if len(positive) and (grid[np.isfinite(grid)] > 0).all() and positive.max() / positive.min() > 50:
        norm = LogNorm(vmin=positive.min(), vmax=positive.max())
    edges = _edges(steps)
    mesh = ax.pcolormesh(edges, np.arange(len(units) + 1) - 0.5, np.ma.masked_invalid(grid),
                         cmap="viridis", norm=norm, shading="flat")
    fig.colorbar(mesh, ax=ax, label="tr(F)" + (" (log scale)" if norm else ""))
    first = True
    for event in run.schedule:
        for u in event.get("units", []):
            ax.plot(event["step"], u, marker="*", ms=11, color="white", mec="black", mew=0.8,
                    ls="none", label="unit unfrozen" if first else None)
            first = False
    ax.set_xlim(edges[0], edges[-1])
    ax.set_yticks(units)
    ax.set_xlabel("training step")
    ax.set_ylabel("unit (layer)")
    ax.grid(False)
    smooth_note = f", moving avg {smooth}" if smooth > 1 else ""
    ax.set_title(f"tr(F) per unit — {run.setup} / {run.selector} seed {run.seed}{smooth_note}")
    if not first:
        ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def _edges(steps: list[int]) -> list[float]:
    if len(steps) == 1:
        return [steps[0] - 0.5, steps[0] + 0.5]
    mids = [(a + b) / 2 for a, b in zip(steps, steps[1:])]
    return [steps[0] - (mids[0] - steps[0])] + mids + [steps[-1] + (steps[-1] - mids[-1])]


def plot_schedule(runs: list[Run], path: Path) -> Path | None:
    """Step × unit: a bar from the step each unit became trainable to the end; one panel per selector.

    Seeds are drawn side by side within a unit's row; FUN's score of each chosen unit is written next to it
    (first seed).
    """
    with_schedule = [r for r in runs if r.schedule]
    if not with_schedule:
        return None
    plt = _plt()
    colors = _colors(runs)
    groups = _by(with_schedule, lambda r: r.group)
    num_units = max(r.num_units for r in with_schedule)
    fig, axes = _panels(plt, len(groups), width=6.4, height=max(3.2, 0.3 * num_units + 1.6))
    multi_task = len({r.setup for r in with_schedule}) > 1
    extra = differing([g[0].settings for g in groups.values()])
    for ax, (_, group) in zip(axes, sorted(groups.items())):
        selector = group[0].selector
        color = colors[selector]
        n = len(group)
        height = 0.7 / n
        end = max(r.last_step for r in group)
        for i, run in enumerate(group):
            offset = (i - (n - 1) / 2) * height
            alpha = 0.85 if i == 0 else 0.45
            for event in run.schedule:
                step = event["step"]
                for u in event.get("units", []):
                    ax.barh(u + offset, max(end - step, 0.5), left=step, height=height * 0.9, color=color,
                            alpha=alpha, lw=0)
                    ax.plot(step, u + offset, marker="|", ms=9, mew=2, color="black")
                    score = (event.get("scores") or {}).get(str(u))
                    if i == 0 and score is not None:
                        ax.annotate(f"{float(score):.3g}", (step, u + offset), xytext=(4, 0),
                                    textcoords="offset points", va="center", fontsize=7,
                                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
        ax.set_xlim(0, end * 1.02 if end else 1)
        ax.set_ylim(-0.6, num_units - 0.4)
        ax.set_yticks(range(num_units))
        ax.set_xlabel("training step")
        ax.set_ylabel("unit (layer)")
        scored = any(e.get("scores") for r in group for e in r.schedule)
        seeds = ", ".join(str(r.seed) for r in group)
        where = f"{group[0].setup} / " if multi_task else ""
        ax.set_title(f"Unfreezing schedule — {where}{_label(selector, group[0].settings, extra)}\n"
                     + (f"seeds {seeds} side by side (seed {group[0].seed}: lower, dark)" if n > 1 else f"seed {seeds}")
                     + ("; labels: FUN score" if scored else ""), fontsize=10)
        ax.grid(axis="y", alpha=0.0)
    return _save(fig, path)


def plot_results(runs: list[Run], path: Path) -> Path | None:
    """Grouped bars: main metric per language per selector (mean ± std over seeds), and the x-ling average."""
    import numpy as np

    from .results import aggregate, scale

    results = [r.results for r in runs if r.results is not None]
    if not results:
        return None
    rows = aggregate(results)
    colors = _colors(runs)
    panels = _by(rows, lambda row: f"{row['task']} / {row['model']} / {row['adapter']}")
    plt = _plt()
    langs_max = max(len(row["scores"]) for row in rows) + 1
    fig, axes = _panels(plt, len(panels), width=max(8.0, 0.45 * langs_max * max(1, len(rows) / len(panels)) + 4),
                        height=4.4, ncols_max=1)
    for ax, (setup, members) in zip(axes, sorted(panels.items())):
        langs = list(dict.fromkeys(lang for row in members for lang in row["scores"]))
        labels = langs + ["avg (x-ling)"]
        x = np.arange(len(labels))
        width = 0.8 / len(members)
        metric = members[0]["metric"]
        factor = scale(metric)
        extra = differing([row["settings"] for row in members])
        for i, row in enumerate(members):
            pairs = [row["scores"].get(lang) or (np.nan, 0.0) for lang in langs] + [row["avg_xling"] or (np.nan, 0.0)]
            means, stds = [m * factor for m, _ in pairs], [sd * factor for _, sd in pairs]
            n = len(row["seeds"])
            ax.bar(x + (i - (len(members) - 1) / 2) * width, means, width * 0.95, yerr=stds if n > 1 else None,
                   capsize=2, color=colors.get(row["selector"]), label=f"{_label(row['selector'], row['settings'], extra)} ({n} seed{'s' * (n > 1)})",
                   error_kw={"lw": 1})
        ax.axvspan(len(langs) - 0.5, len(labels) - 0.5, color="grey", alpha=0.12, lw=0, zorder=0)
        ax.set_xticks(x, labels)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        unit = " (%)" if metric == "accuracy" else ""
        ax.set_ylabel(f"{metric}{unit}")
        ax.set_xlabel("language")
        ax.set_title(f"Zero-shot {metric} per language — {setup}\nmean ± std over seeds; "
                     "avg (x-ling) leaves out the training language")
        tops = [(m + sd) * factor for row in members for m, sd in [*row["scores"].values(), row["avg_xling"]
                                                                   or (np.nan, 0.0)] if np.isfinite(m)]
        if tops:
            ax.set_ylim(0, min(105.0, max(tops) * 1.08))
        ax.grid(axis="x", alpha=0.0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="selector")
    return _save(fig, path)


def plot_all(paths, out_dir, smooth: int = 1) -> tuple[list[Path], list[str]]:
    """Every figure for the runs under PATHS, written to OUT_DIR; returns (written PNGs, notes on skipped ones)."""
    from .output import remove_if_empty, writable_folder, write_all

    if smooth < 1:
        raise UnfreezeError(f"--smooth must be at least 1, got {smooth}")
    require_matplotlib()
    notes: list[str] = []
    runs = load_runs(paths, notes)
    out, made = writable_folder(out_dir, "--out")
    figures = [("loss.png", lambda p: plot_loss(runs, p), None),
               ("validation.png", lambda p: plot_validation(runs, p), "no validation curve (use --eval-every N)"),
               ("fisher.png", lambda p: plot_fisher(runs, p, smooth), "no run tracked tr(F) (use --fisher-every N)"),
               ("fisher_units.png", lambda p: plot_fisher_units(runs, p, smooth), None),
               ("schedule.png", lambda p: plot_schedule(runs, p), "no run has a schedule.json"),
               ("results.png", lambda p: plot_results(runs, p), "no run has a results.json")]
    def figure(name, draw, why):
        def write(tmp: Path) -> bool:
            try:
                drawn = draw(tmp)
            except (ValueError, OverflowError, FloatingPointError) as exc:
                raise UnfreezeError(f"cannot draw {name} ({first_line(exc)}); nothing was written") from None
            if drawn is None and why:
                notes.append(f"skipped {name}: {why}")
            return drawn is not None
        return write

    try:
        written = write_all({out / name: figure(name, draw, why) for name, draw, why in figures})
    except BaseException:
        if made:
            remove_if_empty(out)
        raise
    return written, notes
