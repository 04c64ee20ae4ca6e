"""Everything that can refuse a run, checked before a model is built or a folder is made."""

from __future__ import annotations

from .config import RunConfig
from .errors import UnfreezeError, plugin_error
from .rundir import check_writable


def preflight(config: RunConfig, parts, folder=None) -> None:
    """The output folder (``folder``, default --output-dir), the model's config, the selector's options and
    the budget (``budget.check``: the selector's last unfreezing must be trained), and every data split.
    ``config`` is the resolved configuration (``parts.config``): it was validated when it was resolved."""
    from .budget import batches_per_epoch, run_steps
    from .models import model_config
    from .schedule import Schedule

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
    # one process's count here; the trainer checks again with its sharded loader, by the same rule
    steps = run_steps(config, None if rows is None else batches_per_epoch(config, rows))
    if steps is not None:  # None: the budget in epochs is known once the training features are made
        schedule.check_budget(steps)
