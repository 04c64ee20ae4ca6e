"""Evaluation of a trained model: the train language's validation curve and zero-shot per language."""

from __future__ import annotations


def validation_scores(model, task, tokenizer, *, batch_size: int, device) -> dict[str, float]:
    """The train language's validation scores; the model is left in training mode."""
    scores = task.evaluate(model, tokenizer, task.train_language, batch_size=batch_size, device=device,
                           split="validation")
    model.train()
    return scores


def zero_shot(model, backend, task, tokenizer, languages: list[str], *, batch_size: int, device,
              on_language=None, accelerator=None) -> dict[str, dict[str, float]] | None:
    """Test scores per language, each with its language active (MAD-X swaps the language adapter: no
    reload); the train language is active again afterwards. ``on_language(lang, scores)`` is told of each.

    With an ``accelerator`` of several processes, call it on every rank: each evaluates a contiguous
    shard of every language (``task.evaluate_shard``), the main process merges the gathered partial
    results into the scores one process would give, and returns them (None on the other ranks). A task
    that cannot shard is evaluated whole on the main process."""
    processes = accelerator.num_processes if accelerator is not None else 1
    main = accelerator is None or accelerator.is_main_process
    sharded = processes > 1 and task.shardable
    if not main and not sharded:
        return None
    scores = {}
    for lang in languages:
        backend.activate_language(model, lang)
        if sharded:
            from accelerate.utils import gather_object

            partial = task.evaluate_shard(model, tokenizer, lang, shard=(accelerator.process_index, processes),
                                          batch_size=batch_size, device=device)
            partials = gather_object([partial])
            if main:
                scores[lang] = task.merge_shards(partials, lang)
        else:
            scores[lang] = task.evaluate(model, tokenizer, lang, batch_size=batch_size, device=device)
        if main and on_language:
            on_language(lang, scores[lang])
    backend.activate_language(model, task.train_language)
    return scores if main else None


def validation_due(config, done: int, steps: int) -> bool:
    """Whether the train language's validation is scored after ``done`` updates (``--eval-every``, and the end)."""
    return bool(config.eval_every) and (done % config.eval_every == 0 or done == steps)


def validation_record(trainer, done: int):
    """The ``ValidationRecord`` of a trainer's model after ``done`` updates (main process)."""
    from .events import ValidationRecord

    return ValidationRecord(done, validation_scores(trainer.inner_model, trainer.parts.task, trainer.prepared.tokenizer,
                                                    batch_size=trainer.config.eval_batch_size,
                                                    device=trainer.accelerator.device))


def finish(trainer) -> dict | None:
    """The end of a trained seed: schedule.json and the adapter, zero-shot evaluation per language (sharded
    over the processes), results.json last (its presence means the run finished). The results on the main
    process, else None."""
    from . import signals
    from .identity import run_identity
    from .results import summarise
    from .rundir import RESULTS, SCHEDULE, RunDir, write_failed, write_reason

    acc, parts, folder = trainer.accelerator, trainer.parts, RunDir(trainer.run_dir)
    acc.wait_for_everyone()
    results = None
    model = trainer.inner_model
    if acc.is_main_process:
        folder.write_json(SCHEDULE, trainer.schedule.events)
        try:
            folder.adapter.mkdir(exist_ok=True)  # the contract: save gets a folder that exists
            parts.backend.save(model, folder.adapter)
        except Exception as exc:  # a full or read-only disk (OSError, or the library's own I/O error)
            if write_reason(exc) is None:
                raise
            raise write_failed(folder.adapter, exc) from None
    scores = zero_shot(model, parts.backend, parts.task, trainer.prepared.tokenizer, trainer.prepared.languages,
                       batch_size=trainer.config.eval_batch_size, device=acc.device, accelerator=acc,
                       on_language=lambda lang, s: trainer.hook.on_evaluate(lang=lang, scores=s))
    if acc.is_main_process:
        results = summarise(trainer.config.as_dict(), trainer.seed, parts.task, scores,
                            identity=run_identity(trainer.config, parts))
        with signals.critical():
            folder.write_json(RESULTS, results)
        trainer.hook.on_run_end(run_dir=str(trainer.run_dir), results=results)
    acc.wait_for_everyone()
    return results
