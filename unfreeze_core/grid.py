"""Grid files: a base run configuration and the axes to cross, resolved into cells (one seed run each).

A grid file is a run configuration (any ``unfreeze run`` setting, an ``options`` block) plus:

- ``axes``: setting -> values to cross. A list crosses plain values; a mapping ``value: {settings}``
  also applies the settings that go with that value (the paper's k and lr per selector). An axis may
  name a plugin option as ``kind.key`` (``task.train_limit``).
- ``rules``: ``[{when: {axis: value, ...}, set: {settings}}]`` for settings that depend on several axes.
- ``resources``: per cell ``cpus``, ``gpus``, ``processes`` (processes > 1 run through torchrun).
- ``launcher``: ``{name: local | ray | slurm, ...launcher options}``; ``name``: the sweep folder's name.

Precedence, lowest first: base settings < each axis value and its settings < rules < overrides.
``unfreeze run --config GRID`` runs one point of the grid: the axis values come from the flags
(``--selector topdown``) and every seed of ``seeds`` is run.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from .config import PLUGIN_KINDS, RunConfig, config_from_values, read_yaml, split_option
from .errors import UnfreezeError
from .options import parse_options
from .presets import locate

IGNORED_FOR_IDENTITY = ("output_dir", "checkpoint_every", "threads", "log_every", "batch_split")
"""Settings that do not change what a cell computes: a cell run with other values is still the same cell."""


@dataclass
class Resources:
    cpus: int = 1
    gpus: int = 0
    processes: int = 1

    def __post_init__(self):
        if self.cpus <= 0 or self.gpus < 0 or self.processes <= 0:
            raise ValueError("cpus and processes must be positive, gpus >= 0")
        from .limits import MAX_PROCESSES

        for name in ("cpus", "gpus", "processes"):
            if getattr(self, name) > MAX_PROCESSES:
                raise ValueError(f"{name} is {getattr(self, name)}, above the largest value unfreeze can honour "
                                 f"({MAX_PROCESSES})")


@dataclass
class Cell:
    """One seed run of the grid, with every setting resolved."""

    id: str
    """``selector=topdown/seed1``: also the run directory below the sweep folder."""
    point: dict
    """axis -> value (and ``seed``)."""
    settings: dict
    """The resolved ``RunConfig.as_dict()`` with ``seeds: [seed]``: what ``config.yaml`` will hold."""
    run_dir: Path


@dataclass
class Grid:
    path: Path
    name: str
    base: dict
    axes: dict[str, list[tuple[object, dict]]]
    rules: list[dict] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)
    launcher: dict = field(default_factory=lambda: {"name": "local"})


def _axis(name: str, raw) -> list[tuple[object, dict]]:
    if isinstance(raw, dict):
        out = []
        for value, extra in raw.items():
            if extra is not None and not isinstance(extra, dict):
                raise UnfreezeError(f"axis {name!r}: the settings of value {value!r} must be a mapping")
            out.append((value, dict(extra or {})))
        return out
    if isinstance(raw, list) and raw:
        return [(value, {}) for value in raw]
    raise UnfreezeError(f"axis {name!r} must be a non-empty list of values or a mapping value -> settings")


def parse_grid(values: dict, path: Path) -> Grid:
    values = dict(values)
    axes_raw = values.pop("axes") or {}
    if not isinstance(axes_raw, dict) or not axes_raw:
        raise UnfreezeError(f"{path}: axes must map settings to the values to cross")
    rules = values.pop("rules", None) or []
    if not isinstance(rules, list) or any(not isinstance(r, dict) or set(r) - {"when", "set"} for r in rules):
        raise UnfreezeError(f"{path}: rules must be a list of {{when: {{...}}, set: {{...}}}}")
    resources = parse_options(Resources, values.pop("resources", None), f"{path}: resources")
    launcher = dict(values.pop("launcher", None) or {"name": "local"})
    launcher.setdefault("name", "local")
    name = check_name(str(values.pop("name", None) or path.stem), path)
    grid = Grid(path, name, values, {axis: _axis(axis, raw) for axis, raw in axes_raw.items()}, rules, resources,
                launcher)
    for axis in grid.axes:
        _check_key(axis, path)
    return grid


def check_name(name: str, path) -> str:
    """A sweep's name is one folder below ``--output-dir``: no path separator, no ``..``, not absolute."""
    parts = set(PurePosixPath(name).parts) | set(PureWindowsPath(name).parts)
    if (not name.strip() or "/" in name or "\\" in name or name in (".", "..") or parts & {"..", "/", "\\"}
            or PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or "\0" in name):
        raise UnfreezeError(f"{path}: name {name!r} must be one folder name (no '/', '\\' or '..', not absolute): "
                            "the sweep folder is made inside --output-dir")
    return name


def load_grid(path: str | Path) -> Grid:
    path = locate(path)
    values = read_yaml(path)
    if "axes" not in values:
        raise UnfreezeError(f"{path} is not a grid file (it has no 'axes')")
    return parse_grid(values, path)


# -- settings ----------------------------------------------------------------------------------------


def _check_key(key: str, where) -> None:
    kind, _, name = key.rpartition(".")
    if kind:
        if kind not in PLUGIN_KINDS or not name:
            raise UnfreezeError(f"{where}: {key!r}: a plugin option is written kind.key with kind in "
                                f"{', '.join(PLUGIN_KINDS)}")
    elif (key not in RunConfig.__dataclass_fields__ or key == "given") and key != "options":
        raise UnfreezeError(f"{where}: unknown setting {key!r}")


def apply(values: dict, settings: dict, where="grid") -> None:
    """Put ``settings`` (run settings, ``kind.key`` options or an ``options`` block) into ``values``."""
    for key, value in settings.items():
        _check_key(key, where)
        if key == "options":
            for kind, block in (value or {}).items():
                if not isinstance(block, dict):
                    raise UnfreezeError(f"{where}: options.{kind} must be a mapping")
                values.setdefault("options", {}).setdefault(kind, {}).update(copy.deepcopy(block))
            continue
        kind, _, name = key.rpartition(".")
        if kind:
            values.setdefault("options", {}).setdefault(kind, {})[name] = copy.deepcopy(value)
        else:
            values[key] = copy.deepcopy(value)


def _matches(point: dict, when: dict) -> bool:
    return all(str(point.get(axis)) == str(value) for axis, value in (when or {}).items())


def resolve_point(grid: Grid, point: dict, overrides: dict | None = None) -> dict:
    """The run settings at one point of the grid (axis -> value), seeds still a list."""
    values = copy.deepcopy(grid.base)
    for axis, value in point.items():
        extra = dict(grid.axes[axis])[value]
        apply(values, {axis: value}, grid.path)
        apply(values, extra, f"{grid.path}: axis {axis} = {value}")
    for rule in grid.rules:
        if _matches(point, rule.get("when")):
            apply(values, rule.get("set") or {}, f"{grid.path}: rule {rule.get('when')}")
    apply(values, overrides or {}, "overrides")
    return values




def _safe(value) -> str:
    return str(value).replace("/", "--").replace(" ", "_")


def cells(grid: Grid, output_dir: str | Path, overrides: dict | None = None, plugins=None) -> list[Cell]:
    """Every cell of the grid, each resolved (``components.resolve``: plugins found, options typed): the axes
    crossed in file order, then each seed. Two cells that are the same run are refused."""
    from .components import resolve
    from .plugins import get_plugins

    plugins = plugins or get_plugins()
    sweep_dir = Path(output_dir) / grid.name
    found, seen = [], {}
    axes = list(grid.axes)
    for combo in itertools.product(*[[value for value, _ in grid.axes[a]] for a in axes]):
        point = dict(zip(axes, combo))
        values = resolve_point(grid, point, overrides)
        values["output_dir"] = str(sweep_dir)
        settings = resolve(config_from_values(values, grid.path), plugins).as_dict()
        for seed in settings["seeds"]:
            cell_id = "/".join([*(f"{a.rpartition('.')[2]}={_safe(v)}" for a, v in point.items()), f"seed{seed}"])
            cell = Cell(cell_id, {**point, "seed": seed}, {**settings, "seeds": [seed]}, sweep_dir / cell_id)
            _refuse_duplicate(grid, cell, seen)
            found.append(cell)
    return found


def _refuse_duplicate(grid: Grid, cell: Cell, seen: dict) -> None:
    """One line naming two cells that share a run folder or are the same run (the same resolved settings)."""
    keys = (("folder", cell.id), ("settings", json.dumps(identity(cell.settings), sort_keys=True, default=str)))
    for what, key in keys:
        other = seen.setdefault((what, key), cell)
        if other is not cell:
            why = "the same run folder" if what == "folder" else "the same settings"
            raise UnfreezeError(f"{grid.path}: cells {other.id} and {cell.id} are duplicates ({why}): "
                                "remove one of the repeated axis values")


def identity(settings: dict) -> dict:
    """What makes two runs the same cell: the resolved settings without bookkeeping ones."""
    return {k: v for k, v in settings.items() if k not in IGNORED_FOR_IDENTITY}


def run_values(values: dict, path: Path, flags: dict, options: list[str]) -> dict:
    """``unfreeze run --config GRID``: the settings of the grid point named by the flags (all seeds)."""
    grid = parse_grid(values, path)
    given = {k: v for k, v in flags.items() if v is not None}
    for text in options:  # -o task.train_limit=1000 picks a value of the axis task.train_limit
        key, _, value = text.partition("=")
        given.setdefault(key, value)
    point = {}
    for axis, choices in grid.axes.items():
        names = [v for v, _ in choices]
        if axis in given:
            match = [v for v in names if str(v) == str(given[axis])]
            if not match:
                raise UnfreezeError(f"{path}: {axis} {given[axis]!r} is not in this grid "
                                    f"(choose one of {', '.join(map(str, names))})")
            point[axis] = match[0]
        elif axis in grid.base or len(names) == 1:
            point[axis] = grid.base.get(axis, names[0])
        else:
            flag = f"--{axis.replace('_', '-')}" if "." not in axis else f"-o {axis}=..."
            raise UnfreezeError(f"{path} is a grid: choose {flag} (one of {', '.join(map(str, names))}), "
                                f"or run every cell with: unfreeze sweep {path}")
    return resolve_point(grid, point)


def build_config(file: str | Path | None, flags: dict, options: list[str]) -> tuple[RunConfig, list[tuple]]:
    """A RunConfig (not yet resolved) from a YAML file (a run's settings, or a grid file: the point the flags
    name) and flags (None = not given); the ``-o`` pairs are returned for ``components.build`` to route."""
    file = locate(file) if file else None
    values = read_yaml(file) if file else {}
    if "axes" in values:
        values = run_values(values, Path(file), flags, options)
    values.update({k: v for k, v in flags.items() if v is not None})
    return config_from_values(values, file), [split_option(o) for o in options]
