"""Full fine-tuning: ``--adapter full``, one unit per encoder layer holding that layer's own weights.

Importing this module imports no torch (``unfreeze plugins`` stays fast); the backend is in ``backend.py``.
"""

from __future__ import annotations

from unfreeze_core.hookspecs import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_adapter_backends(register):
    from .backend import Full

    register("full", Full)
