"""unfreeze: scheduled unfreezing of adapters for cross-lingual transfer.

Everything a plugin needs is importable from here::

    from unfreeze_core import hookimpl, Selector, Selection, SelectionContext, UnfreezeError

Names are resolved lazily (PEP 562): ``import unfreeze_core`` imports nothing heavy, and a name is
only imported when first used, so a plugin that imports from here keeps ``unfreeze plugins`` fast.
None of the names below imports torch at import time.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module (relative to this package) that defines it
_PUBLIC = {
    # plugin machinery
    "hookimpl": "hookspecs",
    "Plugin": "api",
    "UnfreezeError": "errors",
    "first_line": "errors",
    # selectors
    "Selector": "api",
    "Selection": "api",
    "SelectionContext": "api",
    # adapter backends
    "AdapterBackend": "api",
    "TaskAdapterBackend": "units",
    "adapter_units": "units",
    "adapter_unit_modules": "units",
    "check_units": "backend_checks",
    # Fisher estimators and their reusable pieces
    "FisherEstimator": "api",
    "sample_labels": "fisher",
    "argmax_labels": "fisher",
    "log_probs": "fisher",
    "model_inputs": "fisher",
    "PerExampleSquaredNorms": "fisher",
    "per_example_sq_norms": "fisher",
    "loop_sq_norms": "fisher",
    "fisher_scores": "fisher",
    "StopWhenRanked": "fisher",
    # tasks
    "Task": "api",
    "TaskOptions": "api",
    "SourcedTask": "tasks.base",
    "CategoricalTask": "tasks.base",
    "PairClassification": "tasks.classification",
    "MultipleChoice": "tasks.multiple_choice",
    "ExtractiveQA": "tasks.qa",
    "HubSplit": "tasks.data",
    # launchers
    "Launcher": "launchers",
    "Job": "launchers",
    "run_in_process": "launchers",
    "last_error": "launchers",
    # testing: a selector's plan without a model, the conformance checks (unfreeze_core.testing)
    "plan": "schedule",
    "make": "testing",
    "selector_plan": "testing",
    "build_model": "testing",
    "check_selector": "testing",
    "check_backend": "testing",
    "check_estimator": "testing",
    "check_task": "testing",
    "check_launcher": "testing",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'unfreeze_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
