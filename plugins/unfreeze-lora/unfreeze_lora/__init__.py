"""LoRA on query and value (r=8, alpha=8, Appendix G.4): one unit = one layer's q and v LoRA pair."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from unfreeze_core.api import AdapterBackend
from unfreeze_core.hookspecs import hookimpl
from unfreeze_core.units import adapter_unit_modules, adapter_units

__version__ = "0.1.0"
TASK = "task"


class LoRA(AdapterBackend):
    @dataclass
    class Options:
        r: int = 8
        alpha: int = 8
        matrices: list[str] | None = None
        """Attention matrices to adapt; default q and v."""

        def __post_init__(self):
            if self.r <= 0:
                raise ValueError("r must be positive")
            bad = set(self.matrices or []) - {"q", "k", "v"}
            if bad:
                raise ValueError(f"matrices may hold q, k and v, not {sorted(bad)}")

    def setup(self, model, *, train_language, languages, model_name):
        from adapters import LoRAConfig

        config = LoRAConfig(r=self.options.r, alpha=self.options.alpha, selfattn_lora=True,
                            attn_matrices=self.options.matrices or ["q", "v"])
        model.add_adapter(TASK, config=config)
        model.train_adapter(TASK)
        model.active_adapters = TASK

    def units(self, model):
        return adapter_units(model, TASK)

    def unit_modules(self, model):
        return adapter_unit_modules(model, TASK)

    def save(self, model, directory):
        Path(directory).mkdir(parents=True, exist_ok=True)
        model.save_adapter(str(directory), TASK, with_head=True, use_safetensors=True)


@hookimpl
def register_adapter_backends(register):
    register("lora", LoRA)
