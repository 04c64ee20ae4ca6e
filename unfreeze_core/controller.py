"""Algorithm 1 independent of any training loop: what to unfreeze, and when.

``Unfreezer`` owns the schedule and its state, the selector and the services it may use (tr(F) and
training batches drawn without disturbing training), making units trainable, the optimizer parameter
groups that hold every unit from the start, SELECT on the main process with the decision broadcast,
and the DDP policy. A loop calls ``advance(step, model)`` before update ``step + 1`` and nothing else;
unfreeze's own loop (``training.py``) and the Hugging Face Trainer callback
(``integrations/transformers.py``) are two such loops.

The two invariants a loop must keep:

- **Every unit is in the optimizer from the start** (``param_groups``): AdamW skips a parameter whose
  grad is None, so a unit is updated from the update after its SELECT, never before; an optimizer
  built from ``requires_grad`` parameters after freezing would never train a unit unfrozen later.
- **DDP syncs only the parameters that required grad when it wrapped the model.** After an unfreeze a
  loop either wraps the model anew (``rewrap``, what unfreeze's loop does), or has every unit require
  grad when the model is wrapped and lets DDP find unused parameters (what a loop that cannot re-wrap,
  the Hugging Face Trainer, does): frozen units then have no grad on any rank and are left untouched.
"""

from __future__ import annotations

import logging
from typing import Iterable, Iterator

from .errors import UnfreezeError
from .fisher import StepBatches, fisher_scores
from .schedule import Schedule

logger = logging.getLogger("unfreeze")


def set_trainable(units: dict, new: Iterable[int], flag: bool = True) -> None:
    for unit in new:
        for _, p in units[unit]:
            p.requires_grad_(flag)


def _state():
    """accelerate's process state (shared with any Accelerator or Hugging Face Trainer in the process)."""
    from accelerate import PartialState

    return PartialState()


class TorchProcesses:
    """The processes of ``torch.distributed`` (one when it is not initialised), for a loop that does not run
    on accelerate (Lightning, a plain torchrun script): what ``Unfreezer(processes=...)`` asks of the
    processes, as accelerate's ``PartialState`` has it: ``is_main_process``, ``num_processes`` and
    ``broadcast(obj)`` (rank 0's object on every rank)."""

    @staticmethod
    def _dist():
        import torch.distributed as dist

        return dist if dist.is_available() and dist.is_initialized() else None

    @property
    def num_processes(self) -> int:
        dist = self._dist()
        return dist.get_world_size() if dist else 1

    @property
    def is_main_process(self) -> bool:
        dist = self._dist()
        return dist.get_rank() == 0 if dist else True

    def broadcast(self, obj):
        dist = self._dist()
        if dist is None or dist.get_world_size() == 1:
            return obj
        holder = [obj]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]


class _AccelerateProcesses:
    """accelerate's processes (the default: unfreeze's own loop and the Hugging Face Trainer run on them)."""

    @property
    def num_processes(self) -> int:
        return _state().num_processes

    @property
    def is_main_process(self) -> bool:
        return _state().is_main_process

    def broadcast(self, obj):
        if _state().num_processes > 1:
            from accelerate.utils import broadcast_object_list

            return broadcast_object_list([obj])[0]
        return obj


class TrainBatches:
    """Training batches for a selector's services, from a data loader of their own seeded by
    (seed, step): the training loop's order and RNG are untouched. One shuffled pass at most: ``n``
    batches never hold the same example twice; a training set smaller than ``n`` batches gives every
    example once (fewer batches).

    ``batch_size`` is the optimizer step's batch (every process and accumulation step together), so an
    estimate on ``n`` batches reads the same examples whatever the accumulation and the number of
    processes; each is handed on in ``micro``-batches of at most that many examples (default: whole),
    the size one process's forward takes in training, so an estimate needs no more memory than a step.
    """

    def __init__(self, dataset, batch_size: int, collate, seed: int, device=None, micro: int | None = None):
        self.dataset, self.batch_size, self.collate, self.seed, self.device = dataset, batch_size, collate, seed, device
        self.micro = min(micro or batch_size, batch_size)

    def available(self) -> int:
        """Batches in one pass over the training set."""
        return -(-len(self.dataset) // self.batch_size)

    def sizes(self, n: int) -> list[int]:
        """Examples in each micro-batch that ``self(n, step)`` yields, in order (any step)."""
        total, out = len(self.dataset), []
        for start in range(0, min(n * self.batch_size, total), self.batch_size):
            whole = min(self.batch_size, total - start)
            out += [min(self.micro, whole - i) for i in range(0, whole, self.micro)]
        return out

    def groups(self, n: int) -> list[int]:
        """How many micro-batches make each step batch of ``self(n, step)`` (``fisher.StepBatches.groups``)."""
        total = len(self.dataset)
        return [-(-min(self.batch_size, total - start) // self.micro)
                for start in range(0, min(n * self.batch_size, total), self.batch_size)]

    def __call__(self, n: int, step: int) -> Iterator[dict]:
        """``n`` step batches (fewer when the set is smaller), as micro-batches: ``len(self.sizes(n))`` dicts."""
        import torch

        if not hasattr(self.dataset, "__getitem__") or not hasattr(self.dataset, "__len__"):
            raise UnfreezeError("training batches for a selector need a map-style training dataset (with len and "
                                "indexing), not an iterable one")
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        sampler = _MicroBatches(torch.utils.data.RandomSampler(self.dataset, generator=generator), self.batch_size,
                                self.micro, n)
        loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=sampler, generator=generator,
                                             collate_fn=self.collate)
        for batch in loader:
            if not hasattr(batch, "items"):
                raise UnfreezeError(f"training batches for a selector must be dicts of the model's keyword arguments "
                                    f"(the model is called as model(**batch)), the collate function gave a "
                                    f"{type(batch).__name__}")
            yield {k: v.to(self.device) if hasattr(v, "to") and self.device is not None else v
                   for k, v in batch.items()}


class _MicroBatches:
    """The first ``n`` batches of ``batch_size`` indices from ``sampler``, each cut into chunks of ``micro``.
    With ``micro == batch_size`` this is exactly ``DataLoader(shuffle=True, batch_size=batch_size)``'s order."""

    def __init__(self, sampler, batch_size: int, micro: int, n: int):
        self.sampler, self.batch_size, self.micro, self.n = sampler, batch_size, micro, n

    def __iter__(self):
        import itertools

        from torch.utils.data import BatchSampler

        for indices in itertools.islice(BatchSampler(self.sampler, self.batch_size, drop_last=False), self.n):
            for i in range(0, len(indices), self.micro):
                yield indices[i:i + self.micro]


class Unfreezer:
    """Algorithm 1 for one model: ``units`` maps unit index -> named parameters (bottom layer is 0).

    ``backend`` (``units``/``unit_modules`` of a model, used on a copy for tr(F)), ``task``
    (``output_distributions`` for ŷ), ``estimator`` (the run's tr(F) estimator) and ``batches``
    (a ``TrainBatches``) are the selector's services; a selector that needs none (GU, LPFT, random)
    runs without them. ``processes`` (``is_main_process``, ``num_processes``, ``broadcast``): where SELECT
    runs and how its decision reaches the other ranks; accelerate's by default, ``TorchProcesses()`` for a
    loop on ``torch.distributed`` alone.
    """

    def __init__(self, selector, units: dict, *, k: int, seed: int = 0, backend=None, task=None, estimator=None,
                 batches: TrainBatches | None = None, fisher_batches: int = 40, processes=None):
        self.units, self.backend, self.task = units, backend, task
        self.processes = processes or _AccelerateProcesses()
        self.estimator = selector.own_estimator() or estimator  # a selector's own estimator is the one that scores
        self.fisher_batches = fisher_batches
        self.seed, self.batches = seed, batches
        self.last_estimate, self._warned_short = None, False
        self.schedule = Schedule(selector, len(units), k, seed)

    # -- the parameters and the optimizer --------------------------------------------------------------
    @property
    def unit_params(self) -> list:
        return [p for params in self.units.values() for _, p in params]

    def param_groups(self, other_params: list) -> list[dict]:
        """Optimizer groups holding ``other_params`` (the head) and every unit's parameters from the start."""
        return [{"params": list(other_params)}, {"params": self.unit_params}]

    def freeze(self) -> None:
        """Only the schedule's trainable units require grad (the rest of the model is left as it is)."""
        trainable = set(self.schedule.trainable)
        for unit in self.units:
            set_trainable(self.units, [unit], unit in trainable)

    def check_budget(self, steps: int) -> None:
        self.schedule.check_budget(steps)

    # -- SELECT --------------------------------------------------------------------------------------------
    def advance(self, step: int, model=None) -> list[int]:
        """Algorithm 1 at ``step`` (updates done): SELECT on the main process, the decision broadcast so every
        rank unfreezes alike; the new units (sorted) require grad from now on. ``model`` is the unwrapped
        model the services estimate on."""
        schedule = self.schedule
        if not schedule.due(step):
            return []
        before = set(schedule.trainable)
        state = self.processes
        if state.is_main_process:
            self.last_estimate = None
            events = len(schedule.events)
            schedule.advance(step, fisher=lambda batches=None, estimator=None: self.fisher(
                                 model, step, batches or self.fisher_batches, estimator),
                             train_batches=lambda n: self.train_batches(n, step))
            if self.last_estimate and len(schedule.events) > events:
                schedule.events[-1].update(self.last_estimate)  # how much data the decision read
        if state.num_processes > 1:
            schedule.load_state_dict(state.broadcast(schedule.state_dict()))
        new = sorted(set(schedule.trainable) - before)
        set_trainable(self.units, new)
        return new

    @property
    def last_event(self) -> dict:
        return self.schedule.events[-1]

    # -- the services a selector may use -------------------------------------------------------------------
    def train_batches(self, n: int, step: int) -> Iterator[dict]:
        if self.batches is None:
            raise UnfreezeError("this selector needs training batches, and the loop gave the unfreezer none")
        return self.batches(n, step)

    def fisher(self, model, step: int, batches: int = 40, estimator=None) -> dict[int, float]:
        """tr(F) per unit with every unit trainable, on ``batches`` batches of the optimizer step's size: in
        place (state saved and restored) on one process, on a copy under several processes (DDP).
        ``estimator``: a ``FisherEstimator`` to use instead of the run's, or a function from the run's
        estimator to one (a selector's wrapper, e.g. FUN's ``StopWhenRanked``). ``last_estimate`` then
        says how many batches and examples it read."""
        import torch

        from .api import FisherEstimator

        if estimator is not None and not isinstance(estimator, FisherEstimator):
            estimator = estimator(self.estimator)
        estimator = estimator or self.estimator
        if estimator is None:
            raise UnfreezeError("no Fisher estimator is installed (pip install plugins/unfreeze-fisher)")
        if model is None or self.backend is None or self.task is None:
            raise UnfreezeError("tr(F) needs the model, a backend and a task given to the unfreezer")
        device = self.batches.device if self.batches is not None and self.batches.device is not None \
            else next(model.parameters()).device
        generator = torch.Generator(device=device).manual_seed(self.seed * 7_919 + step)
        data = StepBatches(self.train_batches(batches, step), self.batches.groups(batches))
        estimator.batches_used = None
        scores = fisher_scores(model, self.backend, self.task, estimator, data, generator,
                               in_place=self.processes.num_processes == 1)
        self.last_estimate = self._read(batches, estimator.batches_used)
        return scores

    def _read(self, asked: int, used: int | None) -> dict:  # used: micro-batches read (batches_used)
        """The record of what an estimate read: ``batches`` (of the step's size; the last one may have been
        read in part when the estimate stopped early), ``examples``, and ``train_examples`` when the training
        set held fewer than the batches asked for."""
        sizes = self.batches.sizes(asked)
        examples = sum(sizes if used is None else sizes[:used])
        read = {"batches": -(-examples // self.batches.batch_size), "examples": examples}
        if self.batches.available() < asked:
            total = len(self.batches.dataset)
            read["train_examples"] = total
            if not self._warned_short:
                self._warned_short = True
                logger.warning(f"tr(F): the training set has {total} examples, fewer than {asked} batches of "
                               f"{self.batches.batch_size}; each estimate uses every example once "
                               f"({self.batches.available()} batches)")
        return read

    def track(self, model, step: int, batches: int):
        """A ``FisherRecord``: tr(F) per unit, its sum over trainable units and that sum per trainable unit
        (call on one process)."""
        from .events import FisherRecord

        scores = self.fisher(model, step, batches)
        trainable = list(self.schedule.trainable)
        total = sum(scores[u] for u in trainable)
        return FisherRecord(step=step, fisher=dict(sorted(scores.items())), fisher_sum=total,
                            fisher_per_trainable=total / len(trainable) if trainable else 0.0,
                            trainable_units=trainable, **self.last_estimate)

    # -- state -----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return self.schedule.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """The schedule of a checkpoint; its trainable units require grad again."""
        self.schedule.load_state_dict(state)
        set_trainable(self.units, self.schedule.trainable)

    # -- DDP -------------------------------------------------------------------------------------------------
    @staticmethod
    def rewrap(model, accelerator):
        """Wrap a prepared model anew so DDP syncs the units that became trainable (several processes only).

        The one place unfreeze touches accelerate's private state: accelerate has no public call to forget a
        prepared model, and ``prepare_model`` appends to ``accelerator._models`` (what ``save_state``,
        ``free_memory`` and ``clip_grad_norm_`` walk), so without dropping the old wrapper every unfreeze would
        leave a stale DDP wrapper there. ``unwrap_model`` and ``prepare_model`` are public."""
        if accelerator.num_processes <= 1:
            return model
        inner = accelerator.unwrap_model(model)
        accelerator._models = [m for m in accelerator._models if m is not model]  # no public API (see above)
        return accelerator.prepare_model(inner)


__all__ = ["Unfreezer", "TrainBatches", "TorchProcesses", "set_trainable"]

