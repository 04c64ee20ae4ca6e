"""Evaluation of a trained model: the train language's validation curve and zero-shot per language."""

from __future__ import annotations


def validation_scores(model, task, tokenizer, *, batch_size: int, device) -> dict[str, float]:
    """The train language's validation scores; the model is left in training mode."""
    scores = task.evaluate(model, tokenizer, task.train_language, batch_size=batch_size, device=device,
                           split="validation")
    model.train()
    return scores


def zero_shot(model, backend, task, tokenizer, languages: list[str], *, batch_size: int, device,
              on_language=None) -> dict[str, dict[str, float]]:
    """Test scores per language, each with its language active (MAD-X swaps the language adapter);
    the train language is active again afterwards. ``on_language(lang, scores)`` is told of each."""
    scores = {}
    for lang in languages:
        backend.activate_language(model, lang)
        scores[lang] = task.evaluate(model, tokenizer, lang, batch_size=batch_size, device=device)
        if on_language:
            on_language(lang, scores[lang])
    backend.activate_language(model, task.train_language)
    return scores
