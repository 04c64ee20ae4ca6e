"""The resolved configuration of a run: defaults < YAML file < command-line flags."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import UnfreezeError, first_line
from .options import parse_options

PLUGIN_KINDS = ("task", "adapter", "selector", "fisher")
MAX_SEED = 2**32 - 1


@dataclass
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
        from .trackers import NAMES

        for name in self.report_to:
            if name not in NAMES:
                bad(f"--report-to {name}: unknown tracker (known: {', '.join(NAMES)})")
        for seed in self.seeds:
            if not 0 <= seed <= MAX_SEED:
                bad(f"seed {seed} is outside 0..2**32-1 (the range numpy and torch accept)")
        twice = sorted({s for s in self.seeds if self.seeds.count(s) > 1})
        if twice:
            bad(f"seed {twice[0]} is given twice: each seed is one run")
        if self.weight_decay < 0 or self.max_grad_norm < 0:
            bad("--weight-decay and max_grad_norm must be >= 0")
        if self.eval_batch_size <= 0:
            bad(f"eval_batch_size must be positive, got {self.eval_batch_size}")
        unknown = set(self.options) - set(PLUGIN_KINDS)
        if unknown:
            bad(f"unknown options block {sorted(unknown)[0]!r} (known: {', '.join(PLUGIN_KINDS)})")
        return self

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping, safe-loaded (no Python objects); every way it can be wrong is one line."""
    path = Path(path)
    if path.is_dir():
        raise UnfreezeError(f"config file {path} is a folder, not a YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise UnfreezeError(f"config file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise UnfreezeError(f"config file {path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UnfreezeError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except (yaml.YAMLError, ValueError) as exc:  # a bad explicit tag (`lr: !!float abc`) raises ValueError
        raise UnfreezeError(f"config file {path} is not valid YAML: {first_line(exc)}") from None
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


def build_config(file: str | None, flags: dict, options: list[str]) -> tuple[RunConfig, list[tuple]]:
    """A RunConfig from a YAML file and flags (None = not given); ``-o`` pairs are returned for routing."""
    values = read_yaml(file) if file else {}
    if "axes" in values:  # a grid file (configs/paper/...): the point named by the flags
        from .grid import run_values

        values = run_values(values, Path(file), flags, options)
    values.update({k: v for k, v in flags.items() if v is not None})
    config = config_from_values(values, file)
    return config, [split_option(o) for o in options]


def config_from_values(values: dict, source=None) -> RunConfig:
    """A validated RunConfig from settings (a YAML file's, a grid cell's): plugin ``options`` blocks merged,
    a paper task's budget checked (``presets``). ``source`` names the file in messages."""
    from .presets import check_budget

    values = dict(values)
    blocks = values.pop("options", None) or {}
    if not isinstance(blocks, dict):
        raise UnfreezeError(f"options in {source or 'the settings'} must be a mapping of blocks "
                            f"({', '.join(PLUGIN_KINDS)}), got {blocks!r}")
    config = parse_options(RunConfig, values, "config")
    for kind, block in blocks.items():
        if not isinstance(block, dict):
            raise UnfreezeError(f"options.{kind} must be a mapping")
        config.options.setdefault(kind, {}).update(block)
    check_budget(config, set(values))
    return config.validate()
