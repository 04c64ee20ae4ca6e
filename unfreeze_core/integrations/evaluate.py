"""The per-language zero-shot table of ``unfreeze run``, for a model trained elsewhere (a Trainer script).

    from unfreeze_core.integrations.evaluate import zero_shot
    results = zero_shot(model, tokenizer, "nli", output_dir=args.output_dir)   # after trainer.train()

evaluates on the task's test split in each language (train language first), prints the table
``unfreeze run`` prints, and writes the same ``results.json`` (the main metric per language, the average
without the train language, the lowest) to ``output_dir``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..rundir import RESULTS


def zero_shot(model, tokenizer, task: str = "nli", *, task_options: dict | None = None, batch_size: int = 64,
              device=None, output_dir: str | Path | None = None, name: dict | None = None, console=None,
              quiet: bool = False) -> dict:
    """Scores of ``model`` per language on the registered task ``task`` (options as ``-o`` gives them:
    ``languages``, ``eval_limit``, ``data_dir`` ...). ``name`` fills the table's title and results.json
    (``model``, ``adapter``, ``selector``, ``seed``). Returns what results.json holds."""
    import torch

    from ..errors import UnfreezeError
    from ..plugins import get_plugins
    from ..results import summarise
    from .resolve import _registered

    made = _registered("tasks", task, task_options)
    if device is None:
        device = next(model.parameters()).device
    was_training = model.training
    try:
        with torch.no_grad():
            scores = {lang: made.evaluate(model, tokenizer, lang, batch_size=batch_size, device=device)
                      for lang in made.languages()}
    except (OSError, ValueError) as exc:
        raise UnfreezeError(f"zero-shot evaluation on {task!r}: {exc}") from None
    finally:
        model.train(was_training)
    labels = {"task": task, "model": "-", "adapter": "-", "selector": "-", "seed": None, **(name or {})}
    settings = {**labels, "options": {"task": dict(task_options or {})}}  # what identifies this table's cell
    results = summarise(settings, labels["seed"], made, scores)
    if output_dir is not None:
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / RESULTS).write_text(json.dumps(results, indent=1) + "\n")
    if not quiet:  # the results view (``results_view`` hook; unfreeze_report's seed table by default)
        from rich.console import Console

        view = get_plugins().hook.results_view(console=console or Console())
        if view is not None:
            view.on_run_end(run_dir=str(output_dir) if output_dir is not None else None, results=results)
    return results


__all__ = ["zero_shot"]
