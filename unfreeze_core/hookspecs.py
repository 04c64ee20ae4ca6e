"""The whole plugin contract: every hook unfreeze calls, one docstring each.

Registration hooks receive a ``register(name, cls)`` callback; the classes they register
follow the base classes in ``unfreeze_core.api``. Event hooks let a plugin watch a run.
"""

import pluggy

hookspec = pluggy.HookspecMarker("unfreeze")
hookimpl = pluggy.HookimplMarker("unfreeze")


@hookspec
def register_selectors(register):
    """Register unfreezing selectors: ``register(name, SelectorSubclass)``."""


@hookspec
def register_adapter_backends(register):
    """Register adapter backends (units = layers): ``register(name, AdapterBackendSubclass)``."""


@hookspec
def register_fisher_estimators(register):
    """Register tr(F) estimators: ``register(name, FisherEstimatorSubclass)``."""


@hookspec
def register_tasks(register):
    """Register tasks (data, head, metric): ``register(name, TaskSubclass)``."""


@hookspec
def register_launchers(register):
    """Register sweep launchers (where cells run): ``register(name, LauncherSubclass)``."""


@hookspec
def on_run_start(run_dir, config):
    """A run (one seed) starts; ``config`` is the resolved, frozen ``RunConfig``. Raising refuses the run:
    the error names this plugin and no run folder is left."""


@hookspec
def on_unfreeze(step, units, scores, record):
    """Units became trainable at ``step``; ``scores`` maps unit -> selector score, or is None.
    ``record`` is the same as an ``unfreeze_core.events.UnfreezeRecord`` (implement only the arguments you need)."""


@hookspec
def on_loss(record):
    """Training loss was logged: ``record`` is an ``unfreeze_core.events.LossRecord``
    (step, loss, lr, trainable_units, elapsed_s)."""


@hookspec
def on_validation(record):
    """The train language's validation scores were measured: an ``unfreeze_core.events.ValidationRecord``
    (step, scores). Main process only."""


@hookspec
def on_fisher(record):
    """tr(F) per unit was measured (``--fisher-every``): an ``unfreeze_core.events.FisherRecord`` (step, fisher:
    {unit: tr(F)}, fisher_sum, fisher_per_trainable, trainable_units, batches, train_examples). Main process only."""


@hookspec
def on_step(record):
    """An optimizer step ended: an ``unfreeze_core.events.StepRecord`` (step, steps, loss, trainable_units).
    Every step, on every rank; what a progress display listens to."""


@hookspec(firstresult=True)
def progress_view(console, seed):
    """The display of one seed's progress on the main process: return an object whose ``@hookimpl`` methods
    (``on_step``, ``on_unfreeze`` ...) receive that seed's events while it runs, with an optional ``close()``.
    The first plugin to return one replaces the built-in rich view (``unfreeze_report.progress``)."""


@hookspec(firstresult=True)
def results_view(console):
    """The display of finished seeds on the main process: return an object whose ``@hookimpl`` ``on_run_end``
    receives each seed's results (the built-in one prints the seed's table), with an optional ``close()`` called
    after the run's last seed (the built-in one prints the table over seeds). The first plugin to return one
    replaces the built-in view (``unfreeze_report.seed_tables``); the engine itself prints no table."""


@hookspec
def on_log(step, metrics):
    """A line was written to ``log.jsonl``: ``metrics`` is that line as a dict (any of the three kinds above).
    The untyped form, kept for existing plugins; new plugins use on_loss / on_validation / on_fisher."""


@hookspec
def on_evaluate(lang, scores):
    """Zero-shot evaluation of one language finished with ``scores`` (metric -> value)."""


@hookspec
def on_run_end(run_dir, results):
    """A run finished; ``results`` is what ``results.json`` holds."""
