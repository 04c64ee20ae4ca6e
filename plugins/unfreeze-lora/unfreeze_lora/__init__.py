"""LoRA on query and value (r=8, alpha=8, Appendix G.4): one unit = one layer's q and v LoRA pair."""

from __future__ import annotations

from dataclasses import dataclass

from unfreeze_core.api import AdapterBackend
from unfreeze_core.hookspecs import hookimpl
from unfreeze_core.units import TaskAdapterBackend

__version__ = "0.1.0"


class LoRA(TaskAdapterBackend, AdapterBackend):
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
        model.add_adapter(self.adapter_name, config=config)
        model.train_adapter(self.adapter_name)
        model.active_adapters = self.adapter_name


@hookimpl
def register_adapter_backends(register):
    register("lora", LoRA)
