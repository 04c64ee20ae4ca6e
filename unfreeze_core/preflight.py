"""Everything that can refuse a run, checked before a model is built or a folder is made."""

from __future__ import annotations

from .config import RunConfig
from .errors import UnfreezeError, plugin_error
from .rundir import check_writable


def preflight(config: RunConfig, parts, folder=None) -> None:
    """The output folder (``folder``, default --output-dir), the model's config, the selector's options and
    the budget against k·L, and every data split."""
    from .models import model_config
    from .schedule import Schedule
    from .training import total_steps

    config.validate()  # again: a RunConfig made in code has not been through build_config
    check_writable(folder or config.output_dir, "--output-dir")
    model = model_config(config.model)
    try:
        num_units = parts.backend.num_units(model)
    except (ValueError, UnfreezeError) as exc:
        raise plugin_error(parts.provenance, "adapter", exc) from None
    try:
        languages = parts.task.languages()
        rows = parts.task.check_data(languages, validation=bool(config.eval_every))
    except ValueError as exc:
        raise plugin_error(parts.provenance, "task", exc) from None
    if not num_units:
        return
    try:
        schedule = Schedule(parts.selector, num_units, config.k)  # runs Selector.check(num_units)
    except (ValueError, UnfreezeError) as exc:
        raise plugin_error(parts.provenance, "selector", exc) from None
    if config.steps is None and config.epochs is not None and rows is None:
        return  # the budget in steps is known once the training features are made (checked again then)
    per_step = max(1, config.batch_size // config.grad_accum)  # one process's micro-batch; total_steps divides by accum
    schedule.check_budget(total_steps(config, -(-(rows or 0) // per_step)))
