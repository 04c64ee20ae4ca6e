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

    def settings_used(self) -> frozenset[str]:
        """Which run settings that only some plugins read (``unfreeze_core.identity.PLUGIN_READ``: ``k``,
        ``fisher``, ``fisher_batches``) this plugin's work depends on. A run's identity holds such a setting
        only when one of its plugins (or ``--fisher-every`` tracking) uses it. Default: none."""
        return frozenset()

    def unused_options(self) -> frozenset[str]:
        """Names of this plugin's own options that, with the values of the others, change nothing (left out
        of a run's identity; e.g. FUN's ``min_batches`` when ``stop_z`` is 0). Default: none."""
        return frozenset()


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
    """``fisher(batches=None, estimator=None)``: tr(F) per unit on a copy of the model with every
    unit trainable, on that many training batches (None: the run's ``--fisher-batches``); training itself
    is left untouched."""
    train_batches: Callable[[int], Iterator[dict]] | None = None
    """``train_batches(n)``: n training batches drawn without disturbing the training order, each
    example at most once (fewer batches when the training set is smaller)."""


class Selector(Plugin):
    """SELECT of Algorithm 1: which still-frozen units become trainable at step i (i mod k == 0).

    What core needs to know about a selector, it declares here (core knows no selector by name):

    - ``static``: it decides everything at step 0 (``schedule_extent`` is then 0 and ``--k`` is not needed).
    - ``scores_with_fisher``: it scores units with the run's Fisher estimator (``--fisher``, with its
      ``-o fisher.KEY=V`` options, on ``--fisher-batches`` batches) through ``ctx.fisher``; the run is then
      named after that estimator and ``plugins.json`` records it as the one that scored.
    - ``own_estimator()``: a selector that scores with an estimator object of its own returns it;
      ``ctx.fisher`` uses it and ``plugins.json`` records it instead of the run's.
    """

    static: bool = False
    scores_with_fisher: bool = False

    def select(self, ctx: SelectionContext) -> list[int] | Selection:
        raise NotImplementedError

    def check(self, num_units: int) -> None:
        """Raise ValueError when the options do not fit a model with ``num_units`` units."""

    def schedule_extent(self, k: int, num_units: int) -> int:
        """The last step at which a SELECT of this selector can still make a unit trainable. A unit made
        trainable at step s is first updated by update s + 1, so a run needs at least ``extent + 1`` steps
        (``unfreeze_core.budget``). 0: everything is decided at step 0 (static selectors). Default:
        (L − 1)·k (one unit every k steps, the last at (L − 1)·k). LPFT returns k.
        ``unfreeze_core.testing.check_selector`` checks that no event comes after it."""
        return 0 if self.static else k * (num_units - 1)

    def settings_used(self) -> frozenset[str]:
        """``k`` unless static; ``fisher_batches`` when it scores units, and ``fisher`` when it scores with
        the run's estimator (not its ``own_estimator``)."""
        used = set() if self.static else {"k"}
        if self.scores_with_fisher or self.own_estimator() is not None:
            used.add("fisher_batches")
            if self.own_estimator() is None:
                used.add("fisher")
        return frozenset(used)

    def own_estimator(self) -> "FisherEstimator | None":
        """The Fisher estimator this selector scores with instead of the run's (None: the run's, when it
        ``scores_with_fisher``)."""
        return None


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

    def num_units(self, model_config) -> int | None:
        """How many units this backend makes for a model with this ``transformers`` config, known before the
        model is built (preflight checks the selector's options and the budget k·L with it); None: unknown.
        Default: one unit per layer (``num_hidden_layers``); override when a unit is something else."""
        return getattr(model_config, "num_hidden_layers", None)

    trains_base_weights: bool = False
    """True when units hold weights of the base model on purpose (full fine-tuning, BitFit, partial fine-tuning);
    otherwise the engine refuses a unit holding a parameter the model had before ``setup`` (``backend_checks``).
    Such units hold weights of the body (``model.base_model``), never the task head's; the checkpoint holds
    every unit's parameters, so a resume restores the trained base weights; ``save`` writes them."""

    def shared_parameters(self, model) -> list[str]:
        """Names of trainable parameters in no unit that train from step 0 with the head (e.g. a matrix shared
        by every layer); the engine refuses any other trainable parameter outside the units and the head."""
        return []

    def activate_language(self, model, lang: str) -> None:
        """Make ``lang`` the active language for evaluation (MAD-X swaps the language adapter)."""

    def save(self, model, directory) -> None:
        """Write the trained task adapter (and head) to ``directory``."""
        raise NotImplementedError


# -- Fisher estimators --------------------------------------------------------------------------


class FisherEstimator(Plugin):
    """tr(F) per unit on the given batches of a model whose units all require grad.

    ``model`` is in eval mode with only the units' parameters requiring grad (it may be the live model:
    take gradients with ``torch.autograd.grad``, change no weight); ``batches`` is a list of collated
    training batches (dicts of tensors) already on the model's device, gold labels included (drop them
    with ``unfreeze_core.model_inputs``); ``generator`` is a ``torch.Generator`` on that device, or None
    (then ``unfreeze_core.sample_labels`` uses torch's global RNG). Full contract: docs/plugins.md.

    Implement ``estimate``, or ``stream`` (per-example values; ``estimate`` is then their mean, and
    FUN's sequential stopping can stop early), or both.
    """

    batches_used: int | None = None
    """How many of the batches given the last ``estimate`` read; None: all of them. An estimator that may
    stop early (``unfreeze_core.fisher.StopWhenRanked``) sets it; the controller records the examples
    those batches hold."""

    def estimate(self, model, *, units: dict[int, list[tuple[str, Any]]], unit_modules: dict[int, list[Any]],
                 task: "Task", batches: list[dict], generator=None) -> dict[int, float]:
        """One float per key of ``units``. Default: the mean of ``stream``'s values over every example."""
        if not self.streams:
            raise NotImplementedError(f"{type(self).__name__} implements neither estimate nor stream")
        totals, count = {u: 0.0 for u in units}, 0
        for values in self.stream(model, units=units, unit_modules=unit_modules, task=task, batches=batches,
                                  generator=generator):
            for u in totals:
                totals[u] += float(values[u].double().sum())
            count += next(iter(values.values())).shape[0] if values else 0
        return {u: t / max(count, 1) for u, t in totals.items()}

    def stream(self, model, *, units: dict[int, list[tuple[str, Any]]], unit_modules: dict[int, list[Any]],
               task: "Task", batches: list[dict], generator=None) -> Iterator[dict[int, Any]]:
        """Optional: per batch, {unit: [B] tensor of per-example values} whose mean over all examples is
        tr(F) (Eq. 1: ||∇ log p(ŷ_i|x_i)||² of the unit's parameters). A streaming estimator lets FUN
        stop reading batches once its decision is clear (``StopWhenRanked``)."""
        raise NotImplementedError

    @property
    def streams(self) -> bool:
        """Whether this estimator implements ``stream``."""
        return type(self).stream is not FisherEstimator.stream


# -- tasks ----------------------------------------------------------------------------------------


@dataclass
class TaskOptions:
    """Options every task understands."""

    data_dir: str | None = None
    """A local folder of <lang>/<split>.jsonl in the hub schema (default: the task's own source)."""
    languages: list[str] | None = None
    """Evaluation languages (default: every language the source has)."""
    max_length: int = 128
    """Tokens per example after truncation."""
    train_limit: int | None = None
    """Train on at most this many examples."""
    eval_limit: int | None = None
    """Evaluate on at most this many examples per language."""


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

    def check_data(self, languages: list[str], validation: bool = False) -> int | None:
        """Load and validate every split the run will use (train; the train language's validation split when
        ``validation``; test in each of ``languages``) before the model is built; raise UnfreezeError naming
        the split and row of the first bad value. Returns the number of training examples when one example
        is one training feature (the budget of ``--epochs`` is then checked up front), else None."""
        return None

    def data_identity(self) -> dict:
        """What the data this task trains and tests on is, for a run's identity (``unfreeze_core.identity``):
        flat keys such as ``data.sha256`` (a hash of the files read) or ``data.revisions`` (hub revisions).
        Two runs whose data differ must differ here. Default: {} (the task's options are all that is known)."""
        return {}

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
