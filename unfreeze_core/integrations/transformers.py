"""Scheduled unfreezing (GU, LPFT, random, FUN ... any registered selector) for ``transformers.Trainer``
and ``adapters.AdapterTrainer``: a ``TrainerCallback`` driving the loop-independent ``Unfreezer``.

    callback = UnfreezeCallback(model, selector="fisher", k=50)   # before the Trainer is built
    trainer = AdapterTrainer(model=model, args=args, train_dataset=train)
    callback.add_to(trainer)
    trainer.train()

The optimizer trap: the Trainer builds its optimizer from the parameters that require grad when
training starts, so units frozen before that would never be trained. The callback therefore makes
every unit require grad when it is created; the Trainer's optimizer (and, under several processes,
DDP) then holds every unit. At ``on_train_begin`` (optimizer built, model wrapped) the callback checks
that the optimizer holds every unit and freezes the units the schedule has not unfrozen yet; at
``on_step_begin`` of update s+1 (``state.global_step == s``) it runs SELECT, so a unit unfrozen at
step s is unchanged through s and moves at update s+1. Frozen units have no grad (the Trainer zeroes
grads to None), and AdamW skips them. Under DDP the units were registered with the wrapper, and
``find_unused_parameters`` (the Trainer's default for a model without gradient checkpointing) lets
frozen units go without a grad on every rank.
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from ..controller import TrainBatches, Unfreezer, set_trainable
from ..errors import UnfreezeError, first_line
from ..events import UnfreezeRecord

from ..rundir import CALLBACK_SETTINGS, FISHER, SCHEDULE
from .resolve import LogitsOf, ModuleUnits, resolve  # noqa: F401 (ModuleUnits: importable here too)


class UnfreezeCallback(TrainerCallback, ExportableState):
    """Algorithm 1 inside a Hugging Face Trainer. Create it before the Trainer, then ``add_to(trainer)``.

    Units (bottom layer 0): ``units={0: [module or "dotted.name", ...], ...}``; or ``backend="madx"`` /
    ``"lora"`` ... (a registered backend's ``units`` applied to the model; ``adapter`` names the adapter);
    or, by default, the layers of the model's single active ``adapters`` adapter.
    ``selector`` and ``estimator`` are registered names with their options (``selector_options`` as
    ``-o`` would give them). ``fisher_every`` > 0 logs tr(F) per unit every that many steps.
    ``seed`` (default ``args.seed``) seeds the selector and the services' data order and ŷ.
    Installed plugins hear the events as in ``unfreeze run``: ``on_unfreeze`` (every process) and
    ``on_fisher`` (main process); ``plugin_hooks=False`` keeps them out.

    Units are checked when the callback is created (``backend_checks``): units that overlap, or that hold
    frozen weights beside trainable adapter weights (the base weights of a PEFT-wrapped ``query``), are
    refused with one line naming the unit. Its state (schedule, tr(F) records) is saved in every checkpoint's
    ``trainer_state.json`` and read back from the checkpoint ``trainer.train(resume_from_checkpoint=...)``
    resumes.
    """

    def __init__(self, model, *, selector: str = "fisher", k: int = 50, selector_options: dict | None = None,
                 units: dict | None = None, backend: str | None = None, backend_options: dict | None = None,
                 adapter: str | None = None, estimator: str | None = "exact", estimator_options: dict | None = None,
                 task=None, fisher_every: int = 0, fisher_batches: int = 40, seed: int | None = None,
                 plugin_hooks: bool = True):
        from ..plugins import get_plugins

        self.hook = get_plugins().hook if plugin_hooks else None
        parts = resolve(model, who="UnfreezeCallback", selector=selector, k=k, selector_options=selector_options,
                        units=units, backend=backend, backend_options=backend_options, adapter=adapter,
                        estimator=estimator, estimator_options=estimator_options, fisher_every=fisher_every,
                        fisher_batches=fisher_batches)
        self.backend, self.units, self.selector, self.estimator = parts.backend, parts.units, parts.selector, parts.estimator
        self.model, self.settings = model, parts.settings
        self.k, self.seed, self.task = k, seed, task or LogitsOf()
        self.fisher_every, self.fisher_batches = fisher_every, fisher_batches
        self.unfreezer, self.trainer, self.tracked = None, None, []
        set_trainable(self.units, self.units)  # every unit in the optimizer (and in DDP) the Trainer builds

    def add_to(self, trainer):
        """Register with ``trainer``: events and tr(F) go through ``trainer.log`` (every ``report_to``), and
        the unfreeze settings reach the trackers with the model's config (``model.config.unfreeze``)."""
        _check_trainer(trainer)
        if self not in trainer.callback_handler.callbacks:
            trainer.add_callback(self)
        self.trainer = trainer
        config = getattr(self.model, "config", None)
        if config is not None:  # every report_to tracker logs the model's config when training starts
            config.unfreeze = self.settings
        return trainer

    def state(self) -> dict:
        """What a checkpoint keeps (transformers' ``ExportableState``: in its ``trainer_state.json``)."""
        if self.unfreezer is None:
            return {"args": {}, "attributes": {}}
        return {"args": {}, "attributes": {"schedule": self.unfreezer.state_dict(), "tracked": self.tracked}}

    @property
    def schedule(self):
        return self.unfreezer.schedule

    # -- Trainer events ----------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, optimizer=None, train_dataloader=None, **kwargs):
        if self.trainer is None:
            raise UnfreezeError("UnfreezeCallback: call callback.add_to(trainer) before trainer.train()")
        self._check_optimizer(optimizer)
        find_unused = args.ddp_find_unused_parameters
        if args.world_size > 1 and not (find_unused if find_unused is not None else not args.gradient_checkpointing):
            raise UnfreezeError("UnfreezeCallback under several processes needs ddp_find_unused_parameters=True "
                                "(frozen units have no gradient)")
        seed = args.seed if self.seed is None else self.seed
        step_batch = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        batches = TrainBatches(train_dataloader.dataset, step_batch, train_dataloader.collate_fn, seed, args.device,
                               micro=args.per_device_train_batch_size) if train_dataloader is not None else None
        self.unfreezer = Unfreezer(self.selector, self.units, k=self.k, seed=seed, backend=self.backend,
                                   task=self.task, estimator=self.estimator, batches=batches,
                                   fisher_batches=self.fisher_batches)
        self.unfreezer.check_budget(state.max_steps)
        self.tracked = []
        if state.global_step:
            self._resume(state)
        self.unfreezer.freeze()

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        step, unfreezer = state.global_step, self.unfreezer
        tracking = self.fisher_every and step % self.fisher_every == 0
        if not (unfreezer.schedule.due(step) or tracking):
            return  # most steps: nothing to decide, and no model to unwrap (it walks every module)
        inner = _unwrap(model)
        new = unfreezer.advance(step, inner)
        if new:
            record = UnfreezeRecord.from_event({**unfreezer.last_event, "units": new})
            self.trainer.log(record.metrics(len(unfreezer.schedule.trainable)))
            if self.hook:
                self.hook.on_unfreeze(step=step, units=new, scores=unfreezer.last_event.get("scores"), record=record)
        if tracking:
            record = _broadcast(unfreezer.track(inner, step, self.fisher_batches) if _is_main() else None)
            self.trainer.log(record.metrics())
            self.tracked.append(record.as_dict())
            if self.hook and _is_main():
                self.hook.on_fisher(record=record)

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self._write(args)

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self._write(args)

    # -- helpers -----------------------------------------------------------------------------------------------
    def _write(self, args) -> None:
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / CALLBACK_SETTINGS).write_text(json.dumps(self.settings, indent=1) + "\n")
        (out / SCHEDULE).write_text(json.dumps(self.unfreezer.schedule.events, indent=1) + "\n")
        if self.tracked:
            (out / FISHER).write_text("".join(json.dumps(r) + "\n" for r in self.tracked))

    def _check_optimizer(self, optimizer) -> None:
        held = {id(p) for group in (optimizer.param_groups if optimizer is not None else []) for p in group["params"]}
        missing = [u for u, params in self.units.items() if any(id(p) not in held for _, p in params)]
        if optimizer is not None and missing:
            raise UnfreezeError(f"the optimizer does not hold units {missing}: create UnfreezeCallback before the "
                                "optimizer (it makes every unit require grad), or build it with unit_param_groups()")

    def _resume(self, state) -> None:
        """The schedule kept in the checkpoint being resumed: the Trainer has just read that checkpoint's
        ``trainer_state.json`` into ``state`` (wherever the checkpoint lies; nothing in output_dir is read)."""
        saved = (getattr(state, "stateful_callbacks", None) or {}).get(type(self).__name__)
        saved = saved[-1] if isinstance(saved, list) and saved else saved
        attributes = saved.get("attributes") if isinstance(saved, dict) else None
        if not attributes or "schedule" not in attributes:
            raise UnfreezeError(f"resuming at step {state.global_step}: the checkpoint holds no unfreezing schedule "
                                "(it was saved without UnfreezeCallback)")
        try:
            self.unfreezer.load_state_dict(attributes["schedule"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise UnfreezeError(f"resuming at step {state.global_step}: the checkpoint's unfreezing schedule does not "
                                f"fit this model ({first_line(exc)})") from None
        self.tracked = list(attributes.get("tracked") or [])

    def unit_param_groups(self, other_params, **group_options) -> list[dict]:
        """Optimizer groups with ``other_params`` and every unit's parameters, for an optimizer built by hand."""
        return [{"params": list(other_params), **group_options},
                {"params": [p for params in self.units.values() for _, p in params], **group_options}]


def _check_trainer(trainer) -> None:
    """What the callback cannot drive, refused before training (docs/integrations.md)."""
    args = trainer.args
    if getattr(trainer, "is_deepspeed_enabled", False) or getattr(args, "deepspeed", None):
        raise UnfreezeError("UnfreezeCallback does not support DeepSpeed (it shards the optimizer the units must "
                            "stay in): train without deepspeed=")
    if getattr(trainer, "is_fsdp_enabled", False) or getattr(args, "fsdp", None):
        raise UnfreezeError("UnfreezeCallback does not support FSDP (flattened parameters cannot be frozen per "
                            "unit): train without fsdp=")
    if getattr(args, "restore_callback_states_from_checkpoint", False):
        raise UnfreezeError("UnfreezeCallback restores its own state from the checkpoint: leave "
                            "restore_callback_states_from_checkpoint=False (it would rebuild the callback without "
                            "its model)")


def _unwrap(model):
    from accelerate.utils import extract_model_from_parallel

    return extract_model_from_parallel(model)


def _is_main() -> bool:
    from accelerate import PartialState

    return PartialState().is_main_process


def _broadcast(obj):
    from accelerate import PartialState

    if PartialState().num_processes > 1:
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([obj])[0]
    return obj
