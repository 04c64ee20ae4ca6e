"""``UnfreezeFinetuning``: Algorithm 1 (GU, LPFT, random, FUN ... any registered selector) as a Lightning
``Callback``, driving the controller ``unfreeze run`` drives (through ``unfreeze_core.integrations.loop``).

    trainer = L.Trainer(max_steps=600, callbacks=[UnfreezeFinetuning(selector="fisher", k=50)])
    trainer.fit(module, train_loader)

Where Lightning's ``BaseFinetuning`` adds a parameter group when it unfreezes, this callback keeps every unit in
the optimizer from the start (the optimizer trap, docs/integrations.md): at ``setup`` (before
``configure_optimizers`` and before DDP wraps the module) every unit requires grad; at ``on_train_start`` (the
optimizer built, a checkpoint's state restored) it checks that the optimizers hold every unit and freezes the
units the schedule has not unfrozen; at the first ``on_train_batch_start`` with ``trainer.global_step == s``
(before update s+1) it runs SELECT. A frozen unit has no grad (Lightning zeroes grads to None) and torch's
optimizers skip it. Under DDP the units were registered with the wrapper and ``find_unused_parameters=True`` lets
frozen units go without a grad on every rank; SELECT runs on rank 0 and its decision is broadcast.
Its state (the schedule, its random state, the tr(F) records) is the callback's ``state_dict`` in every Lightning
checkpoint, read back by ``trainer.fit(ckpt_path=...)``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lightning.pytorch import Callback
from lightning.pytorch.utilities import rank_zero_info

from unfreeze_core.errors import UnfreezeError
from unfreeze_core.events import UnfreezeRecord
from unfreeze_core.integrations.loop import Unfreezing
from unfreeze_core.rundir import CALLBACK_SETTINGS, FISHER, SCHEDULE, write_text_atomic

WHO = "UnfreezeFinetuning"


class UnfreezeFinetuning(Callback):
    """Scheduled unfreezing in ``lightning.pytorch.Trainer(callbacks=[...])``.

    ``model``: the module the units belong to and FUN estimates on, as an attribute path of the LightningModule
    (``"model"``); by default the LightningModule's one Hugging Face (or PEFT) model, else the LightningModule.
    Units (bottom layer 0): ``units={0: [module or "dotted.name" within that model], ...}``; or ``backend=``
    a registered backend (``"lora"``, ``"peft-lora"`` ...; ``adapter`` names the adapter); or, by default, the
    layers of the model's single active ``adapters`` adapter. ``selector``/``estimator`` are registered names
    with their options (as ``-o`` would give them). FUN and ``fisher_every`` read ``fisher_batches`` batches of
    the optimizer step's size (loader batch × ``accumulate_grad_batches`` × processes) from the training
    DataLoader's dataset, through its ``collate_fn`` (dicts of the model's keyword arguments), drawn by a loader
    of their own. ``seed`` defaults to ``seed_everything``'s. ``dirpath`` (default ``trainer.log_dir``) gets
    ``schedule.json``, ``unfreeze.json`` and, with ``fisher_every``, ``fisher.jsonl``.
    """

    def __init__(self, *, selector: str = "fisher", k: int = 50, selector_options: dict | None = None,
                 units: dict | None = None, backend: str | None = None, backend_options: dict | None = None,
                 adapter: str | None = None, model: str | None = None, estimator: str | None = "exact",
                 estimator_options: dict | None = None, task=None, fisher_every: int = 0, fisher_batches: int = 40,
                 seed: int | None = None, plugin_hooks: bool = True, dirpath: str | None = None):
        if k < 1 or fisher_every < 0 or fisher_batches < 1:
            raise UnfreezeError(f"{WHO}: k and fisher_batches must be >= 1 and fisher_every >= 0")
        self.options = dict(selector=selector, k=k, selector_options=selector_options, units=units, backend=backend,
                            backend_options=backend_options, adapter=adapter, estimator=estimator,
                            estimator_options=estimator_options, task=task, fisher_batches=fisher_batches,
                            plugin_hooks=plugin_hooks)
        self.model_path, self.seed, self.dirpath = model, seed, dirpath
        self.fisher_every, self.fisher_batches = fisher_every, fisher_batches
        self.unfreezing, self.tracked, self._saved, self._done, self._dir = None, [], None, None, None

    # -- what a user reads ---------------------------------------------------------------------------------
    @property
    def units(self) -> dict:
        """unit -> [(name, parameter)], as the backend (or your mapping) gives them (after ``setup``)."""
        return self.unfreezing.units

    @property
    def schedule(self):
        """``events`` (as schedule.json has them) and ``trainable`` units."""
        return self.unfreezing.schedule

    @property
    def settings(self) -> dict:
        return self.unfreezing.settings

    # -- Lightning hooks -----------------------------------------------------------------------------------
    def setup(self, trainer, pl_module, stage: str) -> None:
        """Before ``configure_optimizers`` and the DDP wrapper: the units resolved and checked, every unit
        requiring grad (so the optimizer and DDP hold them all)."""
        if stage != "fit":
            return
        _check_strategy(trainer.strategy)
        seed = self.seed if self.seed is not None else int(os.environ.get("PL_GLOBAL_SEED", 0))
        self.unfreezing = Unfreezing(_target(pl_module, self.model_path), seed=seed, who=WHO, **self.options)

    def on_train_start(self, trainer, pl_module) -> None:
        unfreezing = self.unfreezing
        if unfreezing is None:
            raise UnfreezeError(f"{WHO}: the callback was not set up for fitting (trainer.fit sets it up)")
        if trainer.optimizers:
            _check_optimizers(unfreezing, trainer.optimizers)
        loader = trainer.train_dataloader
        batch_size = getattr(loader, "batch_size", None)
        if batch_size and hasattr(loader, "dataset"):
            unfreezing.train_data(loader.dataset, loader.collate_fn,
                                  batch_size * trainer.accumulate_grad_batches * trainer.world_size,
                                  micro_batch_size=batch_size, device=pl_module.device)
        steps = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else trainer.estimated_stepping_batches
        self.tracked, self._done = [], None
        if trainer.global_step:
            self._resume(trainer.global_step)
        unfreezing.freeze(steps=int(steps) if steps != float("inf") else None)
        self._dir = Path(self.dirpath or trainer.log_dir or trainer.default_root_dir)  # log_dir: every rank
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_hyperparams({"unfreeze": unfreezing.settings})

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        step = trainer.global_step
        if step == self._done:
            return  # a later micro-batch of the same update (accumulate_grad_batches)
        self._done = step
        unfreezing = self.unfreezing
        tracking = self.fisher_every and step % self.fisher_every == 0
        if unfreezing.schedule.due(step):
            new = unfreezing.advance(step)
            if new:
                record = UnfreezeRecord.from_event({**unfreezing.schedule.events[-1], "units": new})
                self._log(trainer, record.metrics(len(unfreezing.schedule.trainable)), step)
        if tracking:
            record = unfreezing.track(step, self.fisher_batches)
            self._log(trainer, record.metrics(), step)
            self.tracked.append(record.as_dict())

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if trainer.is_global_zero:
            self._write()

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self._write()

    # -- the checkpoint --------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Kept in every Lightning checkpoint (``checkpoint["callbacks"]``): the schedule and its settings, the
        tr(F) records."""
        if self.unfreezing is None:
            return {}
        return {**self.unfreezing.state_dict(), "tracked": list(self.tracked)}

    def load_state_dict(self, state_dict: dict) -> None:
        self._saved = state_dict  # applied at on_train_start, once the optimizer exists (trainer.fit(ckpt_path=))

    # -- helpers ---------------------------------------------------------------------------------------------
    def _resume(self, step: int) -> None:
        saved = self._saved
        if not saved or "schedule" not in saved:
            raise UnfreezeError(f"{WHO}: resuming at step {step}: the checkpoint holds no unfreezing schedule "
                                f"(it was saved without {WHO})")
        self.unfreezing.load_state_dict(saved)
        self.tracked = list(saved.get("tracked") or [])

    @staticmethod
    def _log(trainer, metrics: dict, step: int) -> None:
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=step)

    def _write(self) -> None:
        if self._dir is None or self.unfreezing is None:
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self._dir / CALLBACK_SETTINGS, json.dumps(self.unfreezing.settings, indent=1) + "\n")
        write_text_atomic(self._dir / SCHEDULE, json.dumps(self.unfreezing.events, indent=1) + "\n")
        if self.tracked:
            write_text_atomic(self._dir / FISHER, "".join(json.dumps(r) + "\n" for r in self.tracked))


def _check_optimizers(unfreezing, optimizers) -> None:
    """Several optimizers: every unit must be in one of them."""
    held = {id(p) for optimizer in optimizers for group in optimizer.param_groups for p in group["params"]}
    missing = [u for u, params in unfreezing.units.items() if any(id(p) not in held for _, p in params)]
    if missing:
        raise UnfreezeError(f"{WHO}: no optimizer holds units {missing}: build them in configure_optimizers from "
                            "the parameters that require grad (the callback makes every unit require grad first)")


def _check_strategy(strategy) -> None:
    """What the callback cannot honour, refused in one line before anything trains; under DDP, frozen units
    need ``find_unused_parameters=True`` (set when the strategy leaves it unset, as ``strategy="ddp"`` does)."""
    from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy, FSDPStrategy

    name = type(strategy).__name__
    try:
        from lightning.pytorch.strategies import ModelParallelStrategy
    except ImportError:  # lightning < 2.4
        ModelParallelStrategy = FSDPStrategy
    if isinstance(strategy, DeepSpeedStrategy):
        raise UnfreezeError(f"{WHO} does not support DeepSpeed (it partitions the optimizer the units must stay in): "
                            "use strategy='ddp'")
    if isinstance(strategy, (FSDPStrategy, ModelParallelStrategy)):
        raise UnfreezeError(f"{WHO} does not support {name} (sharded, flattened parameters cannot be frozen per "
                            "unit): use strategy='ddp'")
    if isinstance(strategy, DDPStrategy):
        kwargs = strategy._ddp_kwargs  # what DDPStrategy hands DistributedDataParallel (no public accessor)
        if kwargs.get("static_graph"):
            raise UnfreezeError(f"{WHO} needs DDP without static_graph (the set of units with gradients changes "
                                "when a unit is unfrozen)")
        if "find_unused_parameters" in kwargs and not kwargs["find_unused_parameters"]:
            raise UnfreezeError(f"{WHO} under DDP needs find_unused_parameters=True (frozen units have no gradient): "
                                "use strategy='ddp' or DDPStrategy(find_unused_parameters=True)")
        if "find_unused_parameters" not in kwargs:
            kwargs["find_unused_parameters"] = True
            rank_zero_info(f"{WHO}: DDP set to find_unused_parameters=True (frozen units have no gradient)")


def _target(pl_module, path: str | None):
    """The model the units belong to: ``path`` in the LightningModule, or its one Hugging Face/PEFT model, or
    the LightningModule itself."""
    if path:
        try:
            return pl_module.get_submodule(path)
        except AttributeError:
            raise UnfreezeError(f"{WHO}: model={path!r} is not a submodule of {type(pl_module).__name__}") from None
    from transformers import PreTrainedModel

    found = []
    for name, module in pl_module.named_modules():
        if module is pl_module or any(name.startswith(f"{outer}.") for outer, _ in found):
            continue
        if isinstance(module, PreTrainedModel) or hasattr(module, "peft_config"):
            found.append((name, module))
    if len(found) > 1:
        raise UnfreezeError(f"{WHO}: {type(pl_module).__name__} holds several models "
                            f"({', '.join(n for n, _ in found)}): name the one to unfreeze with model=")
    return found[0][1] if found else pl_module
