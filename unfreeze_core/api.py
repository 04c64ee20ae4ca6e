"""Base classes of what plugins register. Subclass one, declare ``Options``, register it.

Every class is built as ``cls(options)`` where ``options`` is an instance of its ``Options``
dataclass, validated by ``parse_options``. Torch objects only appear in method arguments, so
importing this module (and listing plugins) never imports torch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator


class Plugin:
    """A registered extension with typed options."""

    @dataclass
    class Options:
        pass

    def __init__(self, options: Any = None):
        self.options = options if options is not None else self.Options()


# -- selectors ---------------------------------------------------------------------------------


@dataclass
class Selection:
    """What a selector returns when it wants to record per-unit scores with its choice."""

    units: list[int]
    scores: dict[int, float] | None = None


@dataclass
class SelectionContext:
    """What a selector may look at when Algorithm 1 calls SELECT at ``step``."""

    step: int
    num_units: int
    k: int
    trainable: list[int]
    frozen: list[int]
    rng: random.Random
    fisher: Callable[..., dict[int, float]] | None = None
    """``fisher(batches=40, estimator=None)``: tr(F) per unit on a copy of the model with every
    unit trainable, on that many training batches; training itself is left untouched."""
    train_batches: Callable[[int], Iterator[dict]] | None = None
    """``train_batches(n)``: n training batches drawn without disturbing the training order, each
    example at most once (fewer batches when the training set is smaller)."""


class Selector(Plugin):
    """SELECT of Algorithm 1: which still-frozen units become trainable at step i (i mod k == 0).

    ``static`` selectors decide everything at step 0, so the budget need not cover k·L steps.
    """

    static: bool = False

    def select(self, ctx: SelectionContext) -> list[int] | Selection:
        raise NotImplementedError

    def check(self, num_units: int) -> None:
        """Raise ValueError when the options do not fit a model with ``num_units`` units."""


# -- adapter backends ---------------------------------------------------------------------------


class AdapterBackend(Plugin):
    """Adds the trainable adapters to a model and maps unit (layer) index -> parameters."""

    def setup(self, model, *, train_language: str, languages: list[str], model_name: str) -> None:
        """Add and activate the task adapter (and whatever it stacks on); freeze the base model."""
        raise NotImplementedError

    def units(self, model) -> dict[int, list[tuple[str, Any]]]:
        """Unit index -> the named parameters trained as that unit (bottom layer is unit 0)."""
        raise NotImplementedError

    def unit_modules(self, model) -> dict[int, list[Any]]:
        """Unit index -> the modules holding those parameters (nn.Linear or LoRA layers)."""
        raise NotImplementedError

    def activate_language(self, model, lang: str) -> None:
        """Make ``lang`` the active language for evaluation (MAD-X swaps the language adapter)."""

    def save(self, model, directory) -> None:
        """Write the trained task adapter (and head) to ``directory``."""
        raise NotImplementedError


# -- Fisher estimators --------------------------------------------------------------------------


class FisherEstimator(Plugin):
    """tr(F) per unit on the given batches of a model whose units all require grad."""

    def estimate(self, model, *, units: dict[int, list[tuple[str, Any]]], unit_modules: dict[int, list[Any]],
                 task: "Task", batches: list[dict], generator=None) -> dict[int, float]:
        raise NotImplementedError


# -- tasks ----------------------------------------------------------------------------------------


@dataclass
class TaskOptions:
    """Options every task understands."""

    data_dir: str | None = None
    languages: list[str] | None = None
    max_length: int = 128
    train_limit: int | None = None
    eval_limit: int | None = None


class Task(Plugin):
    """Data, head and metric of one task: trained in ``train_language``, tested zero-shot in others."""

    Options = TaskOptions
    kind: str = "classification"
    metric: str = "accuracy"
    train_language: str = "en"
    head_name: str = "task"

    def languages(self) -> list[str]:
        """Evaluation languages, train language first."""
        raise NotImplementedError

    def add_head(self, model) -> None:
        raise NotImplementedError

    def train_dataset(self, tokenizer):
        """A map-style dataset of feature dicts (``labels`` included) for training."""
        raise NotImplementedError

    def collate(self, tokenizer) -> Callable[[list[dict]], dict]:
        raise NotImplementedError

    def output_distributions(self, outputs) -> list[Any]:
        """The categorical logits [batch, classes] that ŷ is drawn from (QA: start and end)."""
        raise NotImplementedError

    def evaluate(self, model, tokenizer, lang: str, *, batch_size: int, device, split: str = "test") -> dict[str, float]:
        """Scores in ``lang`` on ``split`` (``test``: zero-shot; ``validation``: the train language's
        validation curve); ``self.metric`` is among the keys."""
        raise NotImplementedError

    def evaluate_shard(self, model, tokenizer, lang: str, *, shard: tuple[int, int], batch_size: int, device,
                       split: str = "test") -> Any:
        """Part ``shard = (index, count)`` of the evaluation, as a picklable partial result that
        ``merge_shards`` combines into the scores ``evaluate`` gives (evaluation over several processes).
        A task that does not override both is evaluated whole by the main process."""
        raise NotImplementedError

    def merge_shards(self, partials: list, lang: str) -> dict[str, float]:
        raise NotImplementedError

    @property
    def shardable(self) -> bool:
        cls = type(self)
        return cls.evaluate_shard is not Task.evaluate_shard and cls.merge_shards is not Task.merge_shards


__all__ = [
    "Plugin", "Selection", "SelectionContext", "Selector", "AdapterBackend", "FisherEstimator",
    "Task", "TaskOptions",
]
