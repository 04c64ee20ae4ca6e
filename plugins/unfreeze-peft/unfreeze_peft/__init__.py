"""PEFT backends for unfreeze: ``peft-lora`` and ``peft-ia3``, one unit per transformer layer.

Importing this module imports neither torch nor peft (``unfreeze plugins`` stays fast).
"""

from __future__ import annotations

from unfreeze_core import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_adapter_backends(register):
    from .backend import PeftIA3, PeftLoRA

    register("peft-lora", PeftLoRA)
    register("peft-ia3", PeftIA3)
