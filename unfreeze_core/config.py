"""A run's configuration: defaults < YAML file < command-line flags, validated and frozen.

``RunConfig`` holds the settings of one run. ``config_from_values`` makes one from a file's or a grid
cell's settings; ``components.resolve`` then looks the plugins up, routes ``-o`` options to the plugin
that declares them and stores them with their declared types, and returns the *resolved* configuration:
nothing changes it afterwards (a ``RunConfig`` is frozen; a resolved one's options are read-only too).
``config_yaml`` is the one writer of what a run folder's ``config.yaml`` holds. This module imports
nothing of unfreeze above ``errors`` and ``options``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import UnfreezeError, first_line
from .options import YamlLoader, parse_options

PLUGIN_KINDS = ("task", "adapter", "selector", "fisher")
MAX_SEED = 2**32 - 1
TRACKERS = ("tensorboard", "wandb", "mlflow", "trackio", "aim", "comet_ml", "clearml", "dvclive", "swanlab")
"""The experiment trackers ``--report-to`` accepts (accelerate's)."""
MAX_YAML_NODES = 1_000_000
"""A YAML file whose aliases expand to more values than this is refused (an alias bomb), not expanded."""


class FrozenDict(dict):
    """A read-only dict (a resolved configuration's options): every change raises TypeError."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("a resolved configuration is frozen: make a new RunConfig (dataclasses.replace) instead")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __reduce__(self):
        return FrozenDict, (dict(self),)

    def __deepcopy__(self, memo):
        return FrozenDict({k: copy.deepcopy(v, memo) for k, v in self.items()})


def freeze(value):
    """``value`` with every mapping read-only and every list a tuple."""
    if isinstance(value, Mapping):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def plain(value):
    """``value`` with every mapping a dict and every tuple a list (what YAML and JSON write)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class RunConfig:
    task: str = "nli"
    model: str = "world"
    adapter: str = "madx"
    selector: str = "standard"
    k: int = 50
    steps: int | None = None
    epochs: float | None = None
    lr: float = 1e-3
    lr_schedule: str = "linear"
    batch_size: int = 32
    grad_accum: int = 1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"
    seeds: list[int] = field(default_factory=lambda: [1])
    fisher: str = "exact"
    fisher_every: int = 0
    fisher_batches: int = 40
    log_every: int = 10
    eval_every: int = 0
    checkpoint_every: int = 100
    eval_batch_size: int = 64
    output_dir: str = "runs"
    threads: int | None = None
    """CPU threads for torch (None: torch's default); 1 is fastest for small models on a busy machine."""
    report_to: list[str] = field(default_factory=list)
    """Experiment trackers through accelerate (tensorboard, wandb, mlflow, trackio ...); empty: none."""
    options: dict[str, dict] = field(default_factory=lambda: {kind: {} for kind in PLUGIN_KINDS})
    """Plugin kind -> the options given to that plugin (resolved: with their declared types, read-only)."""
    given: frozenset[str] | None = field(default=None, compare=False, repr=False)
    """The settings a file or flag gave explicitly (the budget check of a paper task); None: made in code.
    Not a setting: ``as_dict`` leaves it out."""

    DEFAULT_STEPS = 600

    def validate(self) -> "RunConfig":
        def bad(message):
            raise UnfreezeError(message)

        for name in ("lr", "epochs", "weight_decay", "max_grad_norm"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                bad(f"--{name.replace('_', '-')} must be a finite number, got {value}")
        if self.k <= 0:
            bad(f"--k must be a positive number of steps, got {self.k}")
        if self.steps is not None and self.epochs is not None:
            bad("give --steps or --epochs, not both")
        if self.steps is not None and self.steps <= 0:
            bad(f"--steps must be positive, got {self.steps}")
        if self.epochs is not None and self.epochs <= 0:
            bad(f"--epochs must be positive, got {self.epochs}")
        if self.lr <= 0:
            bad(f"--lr must be positive, got {self.lr}")
        if self.batch_size <= 0 or self.grad_accum <= 0:
            bad("--batch-size and --grad-accum must be positive")
        if self.lr_schedule not in ("linear", "constant"):
            bad(f"--lr-schedule must be linear or constant, got {self.lr_schedule!r}")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            bad(f"--mixed-precision must be no, fp16 or bf16, got {self.mixed_precision!r}")
        if self.fisher_every < 0 or self.log_every <= 0 or self.fisher_batches <= 0:
            bad("--fisher-every must be >= 0, --fisher-batches and --log-every > 0")
        if self.eval_every < 0:
            bad(f"--eval-every must be >= 0 (0: no validation curve), got {self.eval_every}")
        if self.threads is not None and self.threads <= 0:
            bad(f"--threads must be positive, got {self.threads}")
        if self.checkpoint_every < 0:
            bad("--checkpoint-every must be >= 0 (0: no checkpoints)")
        if not self.seeds:
            bad("give at least one seed")
        for name in self.report_to:
            if name not in TRACKERS:
                bad(f"--report-to {name}: unknown tracker (known: {', '.join(TRACKERS)})")
        for seed in self.seeds:
            if not 0 <= seed <= MAX_SEED:
                bad(f"seed {seed} is outside 0..2**32-1 (the range numpy and torch accept)")
        twice = sorted(s for s, n in Counter(self.seeds).items() if n > 1)  # linear: a grid may hold 10,000 seeds
        if twice:
            bad(f"seed {twice[0]} is given twice: each seed is one run")
        if self.weight_decay < 0 or self.max_grad_norm < 0:
            bad("--weight-decay and max_grad_norm must be >= 0")
        if self.eval_batch_size <= 0:
            bad(f"eval_batch_size must be positive, got {self.eval_batch_size}")
        self._check_bounds()
        unknown = set(self.options) - set(PLUGIN_KINDS)
        if unknown:
            bad(f"unknown options block {sorted(unknown)[0]!r} (known: {', '.join(PLUGIN_KINDS)})")
        return self

    def _check_bounds(self) -> None:
        """Every number at most what the code downstream can honour (``limits``), one line naming value and bound."""
        from .limits import MAX_COUNT, MAX_EPOCHS, MAX_THREADS, at_most

        for name in ("k", "steps", "batch_size", "grad_accum", "fisher_every", "fisher_batches", "log_every",
                     "eval_every", "checkpoint_every", "eval_batch_size"):
            value = getattr(self, name)
            if value is not None:
                at_most(f"--{name.replace('_', '-')}", value, MAX_COUNT)
        if self.threads is not None:
            at_most("--threads", self.threads, MAX_THREADS)
        if self.epochs is not None:
            at_most("--epochs", self.epochs, MAX_EPOCHS)

    def as_dict(self) -> dict:
        """Every setting as plain dicts and lists (``given`` is not a setting)."""
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "given"}

    def replace(self, **changes) -> "RunConfig":
        """A copy with ``changes`` (a frozen configuration is never changed in place)."""
        return dataclasses.replace(self, **changes)


def config_yaml(config: RunConfig, seed: int, batch_split: dict | None = None) -> str:
    """What a run folder's ``config.yaml`` holds: the resolved configuration of one seed, and (not a
    setting) how ``--batch-size`` was split over processes and accumulation."""
    values = {**config.as_dict(), "seeds": [seed]}
    if batch_split is not None:
        values["batch_split"] = batch_split
    return yaml.safe_dump(values, sort_keys=False)


class YamlBomb(ValueError):
    """A YAML document whose aliases expand beyond ``MAX_YAML_NODES`` values or refer to themselves."""


def _expanded_size(root) -> int:
    """How many values the YAML node graph ``root`` holds once every alias is expanded (memoized: an alias
    bomb is measured without being expanded); ValueError for an alias that contains itself."""
    sizes, open_ = {}, set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            children = node.value if isinstance(node, yaml.SequenceNode) else \
                [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else []
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            continue
        if key in sizes:
            continue
        if key in open_:
            raise YamlBomb("an alias refers to the node that contains it")
        open_.add(key)
        stack.append((node, True))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((c, False) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((c, False) for pair in node.value for c in pair)
    return sizes[id(root)]


def load_yaml_text(text: str):
    """``yaml.safe_load`` that refuses (ValueError) a document whose aliases expand to more than
    ``MAX_YAML_NODES`` values or refer to themselves."""
    loader = YamlLoader(text)  # a safe loader that reads 1e-3 as a float
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node)
        if size > MAX_YAML_NODES:
            raise YamlBomb(f"its aliases expand to {size:.3g} values (more than {MAX_YAML_NODES:,}): "
                             f"an alias bomb?")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping, safe-loaded (no Python objects); every way it can be wrong is one line."""
    path = Path(path)
    if path.is_dir():
        raise UnfreezeError(f"config file {path} is a folder, not a YAML file")
    try:
        data = load_yaml_text(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise UnfreezeError(f"config file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise UnfreezeError(f"config file {path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UnfreezeError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except YamlBomb as exc:
        raise UnfreezeError(f"config file {path} is refused: {exc}") from None
    except (yaml.YAMLError, ValueError) as exc:  # a bad explicit tag (`lr: !!float abc`) raises ValueError
        raise UnfreezeError(f"config file {path} is not valid YAML: {first_line(exc)}") from None
    except RecursionError:
        raise UnfreezeError(f"config file {path} is nested too deeply") from None
    if not isinstance(data, dict):
        raise UnfreezeError(f"config file {path} must hold a mapping of settings")
    if "seed" in data:
        data["seeds"] = [data.pop("seed")]
    data.pop("batch_split", None)  # a run's config.yaml records how --batch-size was split; not a setting
    return data


def split_option(text: str) -> tuple[str | None, str, str]:
    """``selector.units=1,2`` -> ("selector", "units", "1,2"); ``units=1`` -> (None, "units", "1")."""
    if "=" not in text:
        raise UnfreezeError(f"-o expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    kind, _, name = key.rpartition(".")
    if kind and kind not in PLUGIN_KINDS:
        raise UnfreezeError(f"-o {key}: prefix must be one of {', '.join(PLUGIN_KINDS)}")
    return (kind or None), name.strip(), value


def config_from_values(values: dict, source=None) -> RunConfig:
    """A validated RunConfig from settings (a YAML file's, a grid cell's, flags): plugin ``options`` blocks
    merged, the given settings recorded. Not yet resolved (``components.resolve``). ``source`` names the
    file in messages."""
    values = dict(values)
    blocks = values.pop("options", None) or {}
    if not isinstance(blocks, dict):
        raise UnfreezeError(f"options in {source or 'the settings'} must be a mapping of blocks "
                            f"({', '.join(PLUGIN_KINDS)}), got {blocks!r}")
    given = frozenset(values)
    values.pop("given", None)
    config = parse_options(RunConfig, values, "config", bounded=False)
    options = {kind: {} for kind in PLUGIN_KINDS}
    for kind, block in blocks.items():
        if not isinstance(block, dict):
            raise UnfreezeError(f"options.{kind} must be a mapping")
        options.setdefault(kind, {}).update(block)
    return config.replace(options=options, given=given).validate()
