"""unfreeze's training loop for one seed on ``accelerate``: forward/backward/step around the controller.

The loop is a loop: it builds the seed's model, data and optimizer, steps, and tells its listeners. What
to unfreeze and when is the controller's (``controller.Unfreezer``); when to checkpoint and how to
restore is ``checkpoint.Checkpoints``'; validation and the final evaluation with the run's outputs are
``evaluation.py``'s; the run log is ``runlog.py``'s; signals are ``signals.py``'s; the progress display
is a listener of the step events (``unfreeze_report.progress``, replaceable by a plugin).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import evaluation, signals
from .backend_checks import set_up
from .checkpoint import Checkpoints
from .events import LossRecord, StepRecord, UnfreezeRecord
from .limits import mean
from .components import Components
from .config import RunConfig
from .controller import TrainBatches, Unfreezer, set_trainable  # noqa: F401  (set_trainable: public here too)
from .errors import UnfreezeError, plugin_error
from .models import load_model
from .runlog import RunLog


@dataclass
class Prepared:
    """A model with head and adapters, its units, and the training data."""

    model: object
    tokenizer: object
    units: dict
    head_params: list
    train_data: list
    languages: list[str] = field(default_factory=list)


def prepare_model(config: RunConfig, parts: Components) -> Prepared:
    model, tokenizer = load_model(config.model)
    languages = parts.task.languages()
    parts.task.add_head(model)
    try:
        units = set_up(parts.backend, model, train_language=parts.task.train_language, languages=languages,
                       model_name=config.model)  # setup, units, and the checks of backend_checks
    except ValueError as exc:  # the backend refuses this model: one line naming it
        raise plugin_error(parts.provenance, "adapter", exc) from None
    unit_ids = {id(p) for params in units.values() for _, p in params}
    head_params = [p for p in model.parameters() if p.requires_grad and id(p) not in unit_ids]
    for params in units.values():
        for _, p in params:
            p.requires_grad_(False)
    train_data = parts.task.train_dataset(tokenizer)
    return Prepared(model, tokenizer, units, head_params, train_data, languages)


def batch_split(config: RunConfig, processes: int) -> dict:
    """``--batch-size`` is the batch of one optimizer step: split over processes and accumulation steps."""
    parts = processes * config.grad_accum
    if config.batch_size % parts:
        raise UnfreezeError(f"--batch-size {config.batch_size} is the batch of one optimizer step and must divide by "
                            f"processes x --grad-accum = {processes} x {config.grad_accum} = {parts}")
    return {"processes": processes, "grad_accum": config.grad_accum, "per_process": config.batch_size // parts}


def total_steps(config: RunConfig, batches_per_epoch: int) -> int:
    """The budget in optimizer steps (``budget.run_steps``); ``batches_per_epoch`` is what one process draws per
    epoch (its shard)."""
    from .budget import run_steps

    return run_steps(config, batches_per_epoch)


def check_accumulation(accelerator, steps: int) -> None:
    """The Accelerator accumulates ``--grad-accum`` micro-batches, counted by micro-batch only (an Accelerator
    made in code, not by ``process.make_accelerator``, may not)."""
    state = accelerator.gradient_state
    if accelerator.gradient_accumulation_steps != steps or (steps > 1 and state.sync_with_dataloader):
        raise UnfreezeError(f"the Accelerator accumulates {accelerator.gradient_accumulation_steps} micro-batches"
                            f"{' and syncs at the end of the loader' if state.sync_with_dataloader else ''}; "
                            f"--grad-accum {steps} needs Accelerator(gradient_accumulation_plugin="
                            f"unfreeze_core.process.accumulation({steps})), as process.make_accelerator makes it")


class Diverged(UnfreezeError):
    """A non-finite training loss: the run stops, its last good checkpoint kept, no results written."""


def loader_options(device) -> dict:
    """On a GPU, worker processes collate the next batches while the step runs and pinned memory speeds
    the copy to the device; on a CPU neither (workers would take the step's cores). The order of batches
    is the sampler's, drawn in the main process, so it is the same either way.
    ``UNFREEZE_LOADER_WORKERS`` overrides the number of workers."""
    import os

    workers = os.environ.get("UNFREEZE_LOADER_WORKERS")
    cuda = getattr(device, "type", str(device)) == "cuda"
    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = min(4, cores - 1) if cuda else 0
    workers = max(0, int(workers))
    return {"num_workers": workers, "pin_memory": cuda, "persistent_workers": workers > 0}


class Trainer:
    """Trains one seed; ``hook`` is the plugin manager's hook relay for event hooks. ``progress``, a callable
    ``(step, steps, loss, trainable_units, last_unfreeze)``, is told of every step (in-process watchers: tests,
    benchmarks); plugins watch the same steps through ``on_step``."""

    def __init__(self, config: RunConfig, parts: Components, accelerator, seed: int, run_dir: Path, hook,
                 progress=None):
        self.config, self.parts, self.accelerator = config, parts, accelerator
        self.seed, self.run_dir, self.hook, self.progress = seed, Path(run_dir), hook, progress
        self.checkpoints = Checkpoints(self)

    def build(self) -> None:
        """Model, data, controller, optimizer and LR schedule of this seed, prepared by accelerate."""
        import torch
        from accelerate.utils import set_seed

        config, parts, acc = self.config, self.parts, self.accelerator
        set_seed(self.seed)
        self.prepared = prepared = prepare_model(config, parts)
        collate = parts.task.collate(prepared.tokenizer)
        self.split = batch_split(config, acc.num_processes)
        micro = self.split["per_process"]
        generator = torch.Generator().manual_seed(self.seed)
        loader = torch.utils.data.DataLoader(prepared.train_data, batch_size=micro, shuffle=True,
                                             generator=generator, collate_fn=collate, drop_last=False,
                                             **loader_options(acc.device))
        self.unfreezer = Unfreezer(parts.selector, prepared.units, k=config.k, seed=self.seed, backend=parts.backend,
                                   task=parts.task, estimator=parts.estimator, fisher_batches=config.fisher_batches,
                                   batches=TrainBatches(prepared.train_data, config.batch_size, collate, self.seed,
                                                        acc.device, micro=micro))
        self.schedule = self.unfreezer.schedule
        self.trainable_params = prepared.head_params + self.unfreezer.unit_params
        optimizer = torch.optim.AdamW(self.unfreezer.param_groups(prepared.head_params), lr=config.lr,
                                      weight_decay=config.weight_decay)
        check_accumulation(acc, config.grad_accum)
        self.model, self.optimizer, self.loader = acc.prepare(prepared.model, optimizer, loader)
        # The budget from the sharded loader: --epochs counts epochs of the whole set, whatever the processes.
        self.steps = steps = total_steps(config, len(self.loader))
        self.unfreezer.check_budget(steps)
        decay = (lambda s: max(0.0, 1 - s / steps)) if config.lr_schedule == "linear" else (lambda s: 1.0)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, decay)
        self.model.train()

    def rewrap(self) -> None:
        """DDP only syncs parameters that required grad when it wrapped the model: wrap it anew."""
        self.model = self.unfreezer.rewrap(self.model, self.accelerator)

    @property
    def inner_model(self):
        """The unwrapped model; unwrap_model walks every module, so once per wrapping, not once per step."""
        if getattr(self, "_wrapped", None) is not self.model:
            self._inner, self._wrapped = self.accelerator.unwrap_model(self.model), self.model
        return self._inner

    def run(self, resume: bool | dict = False) -> dict:
        """Build, train and finish the seed; ``resume``: continue from the run folder's checkpoint (True), or
        from that checkpoint's state already read and checked (``saved_state.check``)."""
        with signals.handled():
            self.build()
            self.run_dir.mkdir(parents=True, exist_ok=True)  # a Trainer used on its own (run_seed made it already)
            done, window = self.checkpoints.restore(resume if isinstance(resume, dict) else None) if resume \
                else (0, [])
            log = RunLog(self.run_dir, keep_until=done, enabled=self.accelerator.is_main_process)
            try:
                self.loop(done, window, log)
            finally:
                log.close()
            return evaluation.finish(self)

    def loop(self, done: int, window: list[float], log: RunLog) -> None:
        """Steps ``done`` .. ``steps``. A first SIGINT/SIGTERM (one process) stops it at the next step boundary,
        with a checkpoint there."""
        config, acc = self.config, self.accelerator
        batches = self._endless(self.loader, skip=done * config.grad_accum)
        last_unfreeze, started = None, time.time()
        with signals.at_step_boundaries(acc.num_processes == 1):  # several processes: a rank never stops alone
            for step in range(done, self.steps):
                new = self.unfreezer.advance(step, self.inner_model)
                if new:
                    self.rewrap()
                    last_unfreeze = (step, new)
                    record = UnfreezeRecord.from_event({**self.unfreezer.last_event, "units": new})
                    self.hook.on_unfreeze(step=step, units=new, scores=self.unfreezer.last_event.get("scores"),
                                          record=record)
                if config.fisher_every and step % config.fisher_every == 0:
                    self._main_only(log, lambda: self.unfreezer.track(self.inner_model, step, config.fisher_batches))
                loss = self._step(batches)
                if not self._finite(loss):
                    raise Diverged(self._diverged(step + 1, loss))
                self.scheduler.step()
                window.append(loss)
                if (step + 1) % config.log_every == 0 or step + 1 == self.steps:
                    self._emit(log, LossRecord(step=step + 1, loss=mean(window),
                                               lr=self.scheduler.get_last_lr()[0],
                                               trainable_units=list(self.schedule.trainable),
                                               elapsed_s=round(time.time() - started, 2)))
                    window = []
                if evaluation.validation_due(config, step + 1, self.steps):
                    self._main_only(log, lambda: evaluation.validation_record(self, step + 1))
                self.checkpoints.after_step(step + 1, window)
                self._step_done(StepRecord(step + 1, self.steps, loss, list(self.schedule.trainable)), last_unfreeze)
                if signals.requested() is not None:  # SIGINT/SIGTERM: a checkpoint at this step boundary, then stop
                    self.checkpoints.save(step + 1, window)
                    signals.stop()

    def _step_done(self, record: StepRecord, last_unfreeze) -> None:
        self.hook.on_step(record=record)
        if self.progress:
            self.progress(record.step, record.steps, record.loss, self.schedule.trainable, last_unfreeze)

    def _emit(self, log: RunLog, record) -> None:
        """A typed record (events.py) into log.jsonl and to its event hook, and to ``on_log`` as a dict."""
        line = record.as_dict()
        log.write(line)
        getattr(self.hook, record.hook)(record=record)
        self.hook.on_log(step=record.step, metrics=line)

    def _finite(self, loss: float) -> bool:
        """Whether every process's loss is finite (one all-reduce under several processes)."""
        if self.accelerator.num_processes > 1:
            import torch

            loss = self.accelerator.reduce(torch.tensor([loss], device=self.accelerator.device), "sum").item()
        return math.isfinite(loss)

    def _diverged(self, step: int, loss: float) -> str:
        kept = self.checkpoints.kept_step()
        kept = f"the last good checkpoint (step {kept}) is kept" if kept else "no checkpoint was written"
        return (f"the training loss is {loss} at step {step}: training diverged (try a lower --lr); {kept}, "
                f"no results are written ({self.run_dir})")

    def _main_only(self, log: RunLog, measure) -> None:
        """A record measured on the main process only (tr(F), validation): logged and told to the hooks."""
        if self.accelerator.is_main_process:
            self._emit(log, measure())
        self.accelerator.wait_for_everyone()

    def _endless(self, loader, skip: int = 0):
        """Batches over as many epochs as needed, from micro-batch ``skip`` on (resume). accelerate's
        ``skip_first_batches`` passes over the skipped ones without loading them; every skipped epoch is still
        iterated (its indices drawn), so the shuffling generator reaches the state of an unbroken run."""
        from accelerate import skip_first_batches

        epoch = 0
        while True:
            if hasattr(loader, "set_epoch"):
                loader.set_epoch(epoch)
            if skip:
                passed = min(skip, len(loader))
                skip -= passed
                yield from skip_first_batches(loader, passed)
            else:
                yield from loader
            epoch += 1

    def _step(self, batches) -> float:
        """One optimizer step over ``--grad-accum`` micro-batches: accelerate's ``accumulate`` skips DDP's
        gradient sync on all but the last and ``backward`` scales each loss by 1/grad_accum."""
        acc, accum, total = self.accelerator, self.config.grad_accum, 0.0
        for _ in range(accum):
            batch = next(batches)
            with acc.accumulate(self.model):
                loss = self.model(**batch).loss
                acc.backward(loss)
            total += (loss / accum).item()
        with_grad = [p for p in self.trainable_params if p.grad is not None]
        if with_grad and self.config.max_grad_norm:
            acc.clip_grad_norm_(with_grad, self.config.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total
