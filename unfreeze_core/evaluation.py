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
