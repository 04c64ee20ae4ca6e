"""The training loop of one seed on ``accelerate``: Algorithm 1 around forward/backward/step."""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import checkpoint
from .components import Components
from .config import RunConfig
from .errors import UnfreezeError
from .fisher import fisher_scores
from .models import load_model
from .schedule import Schedule


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
    parts.backend.setup(model, train_language=parts.task.train_language, languages=languages,
                        model_name=config.model)
    units = parts.backend.units(model)
    unit_ids = {id(p) for params in units.values() for _, p in params}
    head_params = [p for p in model.parameters() if p.requires_grad and id(p) not in unit_ids]
    for params in units.values():
        for _, p in params:
            p.requires_grad_(False)
    train_data = parts.task.train_dataset(tokenizer)
    return Prepared(model, tokenizer, units, head_params, train_data, languages)


def total_steps(config: RunConfig, batches_per_epoch: int) -> int:
    if config.epochs is not None:
        return max(1, math.ceil(config.epochs * batches_per_epoch / config.grad_accum))
    return config.steps if config.steps is not None else RunConfig.DEFAULT_STEPS


def set_trainable(units: dict, new: list[int]) -> None:
    for unit in new:
        for _, p in units[unit]:
            p.requires_grad_(True)


class Trainer:
    """Trains one seed; ``hook`` is the plugin manager's hook relay for event hooks."""

    def __init__(self, config: RunConfig, parts: Components, accelerator, seed: int, run_dir: Path, hook,
                 progress=None):
        self.config, self.parts, self.accelerator = config, parts, accelerator
        self.seed, self.run_dir, self.hook, self.progress = seed, Path(run_dir), hook, progress

    # -- services a selector may use ---------------------------------------------------------------
    def train_batches(self, n: int, step: int):
        """n training batches from a loader of their own, seeded by (seed, step): training order is untouched."""
        import torch

        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        loader = torch.utils.data.DataLoader(self.prepared.train_data, batch_size=self.config.batch_size,
                                             shuffle=True, generator=generator, collate_fn=self.collate)
        device = self.accelerator.device
        for batch in itertools.islice(itertools.cycle(loader), n):
            yield {k: v.to(device) for k, v in batch.items()}

    def fisher(self, step: int, batches: int = 40, estimator=None) -> dict[int, float]:
        """tr(F) per unit with every unit trainable: in place (state saved and restored) on one process,
        on a copy under several processes (DDP)."""
        import torch

        if estimator is not None and not hasattr(estimator, "estimate"):
            estimator = estimator(self.parts.estimator)  # a selector's wrapper around the run's estimator
        estimator = estimator or self.parts.estimator
        if estimator is None:
            raise UnfreezeError("no Fisher estimator is installed (pip install plugins/unfreeze-fisher)")
        model = self.accelerator.unwrap_model(self.model)
        generator = torch.Generator(device=self.accelerator.device).manual_seed(self.seed * 7_919 + step)
        scores = fisher_scores(model, self.parts.backend, self.parts.task, estimator,
                               list(self.train_batches(batches, step)), generator,
                               in_place=self.accelerator.num_processes == 1)
        return scores

    # -- the loop --------------------------------------------------------------------------------------
    def rewrap(self):
        """DDP only syncs parameters that required grad when it wrapped the model: wrap it anew."""
        if self.accelerator.num_processes > 1:
            inner = self.accelerator.unwrap_model(self.model)
            self.accelerator._models = [m for m in self.accelerator._models if m is not self.model]
            self.model = self.accelerator.prepare_model(inner)

    def build(self) -> None:
        """Model, data, schedule, optimizer and LR schedule of this seed, prepared by accelerate."""
        import torch
        from accelerate.utils import set_seed

        config, parts, acc = self.config, self.parts, self.accelerator
        set_seed(self.seed)
        self.prepared = prepared = prepare_model(config, parts)
        self.collate = parts.task.collate(prepared.tokenizer)
        generator = torch.Generator().manual_seed(self.seed)
        loader = torch.utils.data.DataLoader(prepared.train_data, batch_size=config.batch_size, shuffle=True,
                                             generator=generator, collate_fn=self.collate, drop_last=False)
        self.steps = steps = total_steps(config, len(loader))
        self.schedule = Schedule(parts.selector, len(prepared.units), config.k, self.seed)
        if not parts.selector.static and steps < self.schedule.last_step:
            raise UnfreezeError(f"the budget of {steps} steps is shorter than k·L = {config.k}·{len(prepared.units)}"
                                f" = {self.schedule.last_step}: not every unit could be unfrozen")
        unit_params = [p for params in prepared.units.values() for _, p in params]
        self.trainable_params = prepared.head_params + unit_params
        optimizer = torch.optim.AdamW([{"params": prepared.head_params}, {"params": unit_params}], lr=config.lr,
                                      weight_decay=config.weight_decay)
        decay = (lambda s: max(0.0, 1 - s / steps)) if config.lr_schedule == "linear" else (lambda s: 1.0)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, decay)
        self.model, self.optimizer, self.loader = acc.prepare(prepared.model, optimizer, loader)
        self.model.train()

    def save_checkpoint(self, done: int, window: list[float]) -> None:
        model = self.accelerator.unwrap_model(self.model)
        ids = {id(p) for p in self.trainable_params}
        names = {n for n, p in model.named_parameters() if id(p) in ids}
        checkpoint.save(self.run_dir, step=done, weights=checkpoint.trainable_state(model, names),
                        optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                        schedule=self.schedule.state_dict(), window=window)

    def restore(self) -> tuple[int, list[float]]:
        """Continue from the run directory's checkpoint; returns (updates done, loss window)."""
        state = checkpoint.load(self.run_dir)
        if state is None:
            raise UnfreezeError(f"no checkpoint to resume in {self.run_dir}")
        model = self.accelerator.unwrap_model(self.model)
        model.load_state_dict(state["weights"], strict=False)
        self.schedule.load_state_dict(state["schedule"])
        set_trainable(self.prepared.units, self.schedule.trainable)
        self.rewrap()
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        checkpoint.restore_rng(state["rng"])
        return state["step"], state["window"]

    def open_log(self, done: int):
        """log.jsonl, keeping what an interrupted run logged up to its checkpoint."""
        if not self.accelerator.is_main_process:
            return None
        path = self.run_dir / "log.jsonl"
        kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= done] \
            if done and path.exists() else []
        log = open(path, "w")
        log.writelines(line + "\n" for line in kept)
        return log

    def run(self, resume: bool = False) -> dict:
        config = self.config
        self.build()
        schedule, steps = self.schedule, self.steps
        self.run_dir.mkdir(parents=True, exist_ok=True)
        done, window = self.restore() if resume else (0, [])
        log = self.open_log(done)
        batches = self._endless(self.loader, skip=done * config.grad_accum)
        last_unfreeze, started = None, time.time()
        for step in range(done, steps):
            new = self._advance(step)
            if new:
                set_trainable(self.prepared.units, new)
                self.rewrap()
                last_unfreeze = (step, new)
                self.hook.on_unfreeze(step=step, units=new, scores=schedule.events[-1].get("scores"))
            if config.fisher_every and step % config.fisher_every == 0:
                self._track_fisher(step, log)
            loss = self._step(batches, self.optimizer, self.trainable_params)
            self.scheduler.step()
            window.append(loss)
            if (step + 1) % config.log_every == 0 or step + 1 == steps:
                record = {"step": step + 1, "loss": sum(window) / len(window), "lr": self.scheduler.get_last_lr()[0],
                          "trainable_units": list(schedule.trainable), "elapsed_s": round(time.time() - started, 2)}
                window = []
                if log:
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                self.hook.on_log(step=step + 1, metrics=record)
            if config.eval_every and ((step + 1) % config.eval_every == 0 or step + 1 == steps):
                self._validate(step + 1, log)
            if config.checkpoint_every and ((step + 1) % config.checkpoint_every == 0 or step + 1 == steps) \
                    and self.accelerator.is_main_process:
                self.save_checkpoint(step + 1, window)
            if self.progress:
                self.progress(step + 1, steps, loss, schedule.trainable, last_unfreeze)
        if log:
            log.close()
        return self.finish()

    def _advance(self, step: int) -> list[int]:
        """Algorithm 1's SELECT, decided on the main process and broadcast, so every rank unfreezes alike."""
        schedule = self.schedule
        if not schedule.due(step):
            return []
        before = set(schedule.trainable)
        if self.accelerator.is_main_process:
            schedule.advance(step, fisher=lambda batches=40, estimator=None: self.fisher(step, batches, estimator),
                             train_batches=lambda n: self.train_batches(n, step))
        if self.accelerator.num_processes > 1:
            from accelerate.utils import broadcast_object_list

            state = broadcast_object_list([schedule.state_dict()])[0]
            schedule.load_state_dict(state)
        return sorted(set(schedule.trainable) - before)

    def _validate(self, done: int, log) -> None:
        """Log the train language's validation scores (the validation curve); training mode is restored."""
        if self.accelerator.is_main_process:
            model = self.accelerator.unwrap_model(self.model)
            scores = self.parts.task.evaluate(model, self.prepared.tokenizer, self.parts.task.train_language,
                                              batch_size=self.config.eval_batch_size, device=self.accelerator.device,
                                              split="validation")
            model.train()
            record = {"step": done, "validation": scores}
            log.write(json.dumps(record) + "\n")
            log.flush()
            self.hook.on_log(step=done, metrics=record)
        self.accelerator.wait_for_everyone()

    def _track_fisher(self, step: int, log) -> None:
        """Log tr(F) per unit, its sum over trainable units and that sum per trainable unit (main process only)."""
        if self.accelerator.is_main_process:
            scores = self.fisher(step, self.config.fisher_batches)
            trainable = self.schedule.trainable
            total = sum(scores[u] for u in trainable)
            record = {"step": step, "fisher": {str(u): s for u, s in sorted(scores.items())},
                      "fisher_sum": total, "fisher_per_trainable": total / len(trainable) if trainable else 0.0,
                      "trainable_units": list(trainable)}
            log.write(json.dumps(record) + "\n")
            log.flush()
            self.hook.on_log(step=step, metrics=record)
        self.accelerator.wait_for_everyone()

    def _endless(self, loader, skip: int = 0):
        """Batches over as many epochs as needed; the first ``skip`` are drawn and dropped (resume)."""
        epoch = 0
        while True:
            if hasattr(loader, "set_epoch"):
                loader.set_epoch(epoch)
            for batch in loader:
                if skip:
                    skip -= 1
                    continue
                yield batch
            epoch += 1

    def _step(self, batches, optimizer, params) -> float:
        from contextlib import nullcontext

        acc, accum, total = self.accelerator, self.config.grad_accum, 0.0
        for micro in range(accum):
            batch = next(batches)
            sync = nullcontext() if micro == accum - 1 else acc.no_sync(self.model)
            with sync:
                loss = self.model(**batch).loss / accum
                acc.backward(loss)
            total += loss.item()
        with_grad = [p for p in params if p.grad is not None]
        if with_grad and self.config.max_grad_norm:
            acc.clip_grad_norm_(with_grad, self.config.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return total

    def finish(self) -> dict:
        """Zero-shot evaluation per language on the main process; schedule, adapter and results on disk."""
        acc, parts = self.accelerator, self.parts
        acc.wait_for_everyone()
        results = None
        if acc.is_main_process:
            model = acc.unwrap_model(self.model)
            (self.run_dir / "schedule.json").write_text(json.dumps(self.schedule.events, indent=1) + "\n")
            parts.backend.save(model, self.run_dir / "task_adapter")
            scores = {}
            for lang in self.prepared.languages:
                parts.backend.activate_language(model, lang)
                metrics = parts.task.evaluate(model, self.prepared.tokenizer, lang,
                                              batch_size=self.config.eval_batch_size, device=acc.device)
                scores[lang] = metrics
                self.hook.on_evaluate(lang=lang, scores=metrics)
            parts.backend.activate_language(model, parts.task.train_language)
            from .results import summarise

            results = summarise(self.config, self.seed, parts.task, scores)
            (self.run_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
            self.hook.on_run_end(run_dir=str(self.run_dir), results=results)
        acc.wait_for_everyone()
        return results
