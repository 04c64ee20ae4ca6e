"""The resolved configuration of a run: defaults < YAML file < command-line flags."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import UnfreezeError
from .options import parse_options

PLUGIN_KINDS = ("task", "adapter", "selector", "fisher")


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
        unknown = set(self.options) - set(PLUGIN_KINDS)
        if unknown:
            bad(f"unknown options block {sorted(unknown)[0]!r} (known: {', '.join(PLUGIN_KINDS)})")
        return self

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def read_yaml(path: str | Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise UnfreezeError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise UnfreezeError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UnfreezeError(f"config file {path} must hold a mapping of settings")
    if "seed" in data:
        data["seeds"] = [data.pop("seed")]
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
    file_options = values.pop("options", None) or {}
    values.update({k: v for k, v in flags.items() if v is not None})
    config = parse_options(RunConfig, values, "config")
    for kind, block in file_options.items():
        if not isinstance(block, dict):
            raise UnfreezeError(f"options.{kind} must be a mapping")
        config.options.setdefault(kind, {}).update(block)
    return config.validate(), [split_option(o) for o in options]
