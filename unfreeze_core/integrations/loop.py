"""Scheduled unfreezing (any registered selector; FUN with any registered estimator) in your own training loop:
plain PyTorch, accelerate, research code. ``Unfreezing`` binds the loop-independent controller
(``controller.Unfreezer``, the same one ``unfreeze run`` drives) to your model:

    unfreezing = Unfreezing(model, selector="fisher", k=50, train_dataset=train, collate_fn=collate, batch_size=32)
    optimizer = torch.optim.AdamW(unfreezing.param_groups(head_params), lr=1e-3)   # every unit, from the start
    unfreezing.freeze(steps=max_steps)          # the units the schedule has not unfrozen stop requiring grad
    for step, batch in enumerate(batches):      # step = updates done
        unfreezing.advance(step)                # before update step + 1: SELECT when due
        model(**batch).loss.backward()
        optimizer.step(); optimizer.zero_grad(set_to_none=True)
    checkpoint["unfreeze"] = unfreezing.state_dict()    # resume: load_state_dict(...) then freeze()

A unit unfrozen at step s is unchanged through update s and moves from update s+1: a frozen unit gets no
grad, and torch's optimizers skip a parameter whose grad is None (zero grads to None, the default of
``zero_grad``). See docs/integrations.md, "Your own loop", and docs/examples/own_loop.py.
"""

from __future__ import annotations

from ..controller import TorchProcesses, TrainBatches, Unfreezer, set_trainable
from ..errors import UnfreezeError, first_line
from ..events import UnfreezeRecord
from .resolve import LogitsOf, resolve


class Unfreezing:
    """Algorithm 1 for ``model`` in a loop of yours. Created before the optimizer: it makes every unit require
    grad, so an optimizer built from ``param_groups`` or from the parameters that require grad holds them all.

    Units (bottom layer 0): ``units={0: [module or "dotted.name", ...], ...}``; or ``backend="madx"``,
    ``"lora"``, ``"peft-lora"`` ... (a registered backend's ``units(model)``; ``adapter`` names the adapter);
    or, by default, the layers of the model's single active ``adapters`` adapter. ``selector`` and
    ``estimator`` are registered names, their options as ``-o`` would give them. A selector that reads
    training data (FUN) draws ``fisher_batches`` batches of ``batch_size`` examples (the optimizer step's
    batch) from ``train_dataset`` through ``collate_fn``, in micro-batches of ``micro_batch_size``, on
    ``device``, with a loader of its own seeded by (``seed``, step): your loop's data order and RNG are
    untouched. ``task`` gives ŷ (``output_distributions(outputs)``; default: the outputs' logits).

    Under several processes (``torch.distributed`` initialised, e.g. by torchrun or accelerate) SELECT runs
    on rank 0 and its decision is broadcast: call ``advance`` at the same steps on every rank.
    """

    def __init__(self, model, *, selector: str = "fisher", k: int = 50, selector_options: dict | None = None,
                 units: dict | None = None, backend: str | None = None, backend_options: dict | None = None,
                 adapter: str | None = None, estimator: str | None = "exact", estimator_options: dict | None = None,
                 task=None, fisher_batches: int = 40, seed: int = 0, train_dataset=None, collate_fn=None,
                 batch_size: int | None = None, micro_batch_size: int | None = None, device=None,
                 plugin_hooks: bool = True, processes=None, who: str = "Unfreezing"):
        from ..plugins import get_plugins

        self.who, self.model = who, model
        self.hook = get_plugins().hook if plugin_hooks else None
        parts = resolve(model, who=who, selector=selector, k=k, selector_options=selector_options, units=units,
                        backend=backend, backend_options=backend_options, adapter=adapter, estimator=estimator,
                        estimator_options=estimator_options, fisher_batches=fisher_batches)
        self.backend, self.units, self.settings = parts.backend, parts.units, parts.settings
        self.unfreezer = Unfreezer(parts.selector, self.units, k=k, seed=seed, backend=self.backend,
                                   task=task or LogitsOf(), estimator=parts.estimator, fisher_batches=fisher_batches,
                                   processes=processes or TorchProcesses())
        if train_dataset is not None:
            self.train_data(train_dataset, collate_fn, batch_size, micro_batch_size=micro_batch_size, device=device)
        set_trainable(self.units, self.units)  # every unit in the optimizer (and in DDP) built after this

    # -- the optimizer ---------------------------------------------------------------------------------------
    @property
    def unit_params(self) -> list:
        """Every unit's parameters (bottom unit first)."""
        return self.unfreezer.unit_params

    def param_groups(self, other_params=(), **group_options) -> list[dict]:
        """Optimizer groups: ``other_params`` (the head, anything you train from step 0) and every unit's
        parameters, each group with ``group_options`` (``weight_decay=...``)."""
        return [{"params": list(other_params), **group_options}, {"params": self.unit_params, **group_options}]

    def check_optimizer(self, optimizer) -> None:
        """Refuse (one line) an optimizer that does not hold every unit: a unit left out would never train."""
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        missing = [u for u, params in self.units.items() if any(id(p) not in held for _, p in params)]
        if missing:
            raise UnfreezeError(f"{self.who}: the optimizer does not hold units {missing}: build it after "
                                f"{self.who} is created (every unit then requires grad), or from param_groups()")

    # -- the schedule ------------------------------------------------------------------------------------------
    def train_data(self, dataset, collate_fn, batch_size: int, *, micro_batch_size: int | None = None,
                   device=None) -> None:
        """The training data a selector's services read (FUN's tr(F)): map-style ``dataset``, ``collate_fn``
        giving dicts of the model's keyword arguments, ``batch_size`` examples per optimizer step."""
        if not batch_size or batch_size < 1:
            raise UnfreezeError(f"{self.who}: batch_size must be the optimizer step's batch (>= 1), got {batch_size!r}")
        self.unfreezer.batches = TrainBatches(dataset, batch_size, collate_fn, self.unfreezer.seed, device,
                                              micro=micro_batch_size)

    def freeze(self, steps: int | None = None) -> None:
        """Only the units the schedule has unfrozen require grad (call after building the optimizer, and after
        ``load_state_dict`` on resume). ``steps``: the run's budget, refused when shorter than the schedule."""
        if steps is not None:
            self.unfreezer.check_budget(steps)
        self.unfreezer.freeze()

    def advance(self, step: int) -> list[int]:
        """Algorithm 1 at ``step`` (updates done), before update ``step + 1``: the units unfrozen now (sorted;
        ``[]`` on most steps). Installed plugins hear ``on_unfreeze``."""
        unfreezer = self.unfreezer
        new = unfreezer.advance(step, self.model)
        if new and self.hook:
            record = UnfreezeRecord.from_event({**unfreezer.last_event, "units": new})
            self.hook.on_unfreeze(step=step, units=new, scores=unfreezer.last_event.get("scores"), record=record)
        return new

    def track(self, step: int, batches: int | None = None):
        """tr(F) of every unit now (a ``FisherRecord``, the same on every rank: estimated on rank 0)."""
        processes = self.unfreezer.processes
        record = self.unfreezer.track(self.model, step, batches or self.unfreezer.fisher_batches) \
            if processes.is_main_process else None
        return processes.broadcast(record)

    @property
    def schedule(self):
        """The schedule: ``events`` (``{"step", "units", "scores"...}``, as schedule.json has them), ``trainable``."""
        return self.unfreezer.schedule

    @property
    def events(self) -> list[dict]:
        return self.unfreezer.schedule.events

    # -- resume ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The schedule's state (trainable units, events, the selector's random state) and the settings; plain
        Python values (JSON and ``torch.load(weights_only=True)`` take them)."""
        return {"schedule": self.unfreezer.state_dict(), "settings": dict(self.settings)}

    def load_state_dict(self, state: dict) -> None:
        """The state ``state_dict`` gave; refused in one line when it was saved with other settings. Call
        ``freeze()`` afterwards."""
        if not isinstance(state, dict) or "schedule" not in state:
            raise UnfreezeError(f"{self.who}: the checkpoint holds no unfreezing schedule")
        saved = state.get("settings") or {}
        differ = [key for key in ("selector", "k", "units", "backend", "selector_options")
                  if key in saved and saved[key] != self.settings[key]]
        if differ:
            key = differ[0]
            raise UnfreezeError(f"{self.who}: the checkpoint's schedule was made with {key}={saved[key]!r}, "
                                f"this run has {key}={self.settings[key]!r}")
        try:
            self.unfreezer.load_state_dict(state["schedule"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise UnfreezeError(f"{self.who}: the checkpoint's unfreezing schedule does not fit this model "
                                f"({first_line(exc)})") from None


__all__ = ["Unfreezing"]
