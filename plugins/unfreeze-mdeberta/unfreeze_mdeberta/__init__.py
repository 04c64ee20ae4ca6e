"""DeBERTa-v2 (mDeBERTa v3 base) backends.

- ``mdeberta``: MAD-X -- a bottleneck task adapter (one unit per layer) stacked on language adapters
  that were trained for this model (``unfreeze lang-adapter train --model microsoft/mdeberta-v3-base``):
  AdapterHub has none for mDeBERTa, so ``lang_adapters=DIR`` (or ``fresh`` for smoke tests) is required.
- ``mdeberta-lora``: LoRA (r=8, alpha=8) on DeBERTa-v2's ``query_proj`` and ``value_proj``; one unit =
  one layer's pair. ``adapters`` wraps those modules for the attention keys ``q`` and ``v``.
"""

from __future__ import annotations

from dataclasses import dataclass

from unfreeze_core.errors import UnfreezeError
from unfreeze_core.hookspecs import hookimpl
from unfreeze_lora import LoRA
from unfreeze_madx import MadX

__version__ = "0.1.0"
MODEL_TYPES = ("deberta-v2",)
PROJECTIONS = {"q": "query_proj", "k": "key_proj", "v": "value_proj"}


def require_deberta(model, backend: str) -> None:
    model_type = getattr(model.config, "model_type", None)
    if model_type not in MODEL_TYPES:
        raise UnfreezeError(f"the {backend} backend needs a DeBERTa-v2 model (mDeBERTa v3), not {model_type!r}")


class MDebertaMadX(MadX):
    @dataclass
    class Options(MadX.Options):
        lang_adapters: str = ""
        """A folder with one self-trained language adapter per language (DIR/<lang>/), or ``fresh``."""

        def __post_init__(self):
            super().__post_init__()
            if self.lang_adapters in ("", "auto"):
                raise ValueError("lang_adapters is required: a folder of language adapters trained with "
                                 "'unfreeze lang-adapter train' (AdapterHub has none for mDeBERTa), or 'fresh'")

    def setup(self, model, *, train_language, languages, model_name):
        require_deberta(model, "mdeberta")
        super().setup(model, train_language=train_language, languages=languages, model_name=model_name)


class MDebertaLoRA(LoRA):
    def setup(self, model, *, train_language, languages, model_name):
        require_deberta(model, "mdeberta-lora")
        super().setup(model, train_language=train_language, languages=languages, model_name=model_name)


def lora_targets(model) -> dict[int, list[str]]:
    """Layer -> names of the attention projections that carry the task LoRA (query_proj/value_proj)."""
    from adapters.methods.lora import LoRALayer

    found: dict[int, list[str]] = {}
    for name, module in model.named_modules():
        if isinstance(module, LoRALayer) and "task" in getattr(module, "loras", {}):
            parts = name.split(".")
            layer = int(parts[parts.index("layer") + 1])
            found.setdefault(layer, []).append(parts[-1])
    return found


@hookimpl
def register_adapter_backends(register):
    register("mdeberta", MDebertaMadX)
    register("mdeberta-lora", MDebertaLoRA)
