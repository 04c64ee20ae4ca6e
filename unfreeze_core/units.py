"""Units of an ``adapters`` model: layer index -> the modules and parameters of one adapter there."""

from __future__ import annotations


def adapter_unit_modules(model, adapter: str) -> dict[int, list]:
    """Layer -> the modules of ``adapter`` in that layer (via ``model.get_adapter``)."""
    layers = model.get_adapter(adapter)
    if not layers:
        raise ValueError(f"the model has no adapter {adapter!r}")
    return {int(layer): list(modules.values()) for layer, modules in sorted(layers.items()) if layer != -1}


def adapter_units(model, adapter: str) -> dict[int, list[tuple[str, object]]]:
    """Layer -> named parameters of ``adapter`` in that layer."""
    units = {}
    for layer, modules in adapter_unit_modules(model, adapter).items():
        params = []
        for i, module in enumerate(modules):
            params += [(f"layer{layer}.{i}.{name}", p) for name, p in module.named_parameters()]
        units[layer] = params
    return units


class TaskAdapterBackend:
    """Mixin for backends whose units are the layers of one ``adapters`` adapter named ``adapter_name``."""

    adapter_name = "task"

    def units(self, model):
        return adapter_units(model, self.adapter_name)

    def unit_modules(self, model):
        return adapter_unit_modules(model, self.adapter_name)

    def save(self, model, directory):
        from pathlib import Path

        Path(directory).mkdir(parents=True, exist_ok=True)
        model.save_adapter(str(directory), self.adapter_name, with_head=True, use_safetensors=True)
