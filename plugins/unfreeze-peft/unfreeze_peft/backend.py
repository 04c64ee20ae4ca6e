"""PEFT's adapters as unfreeze units: the adapter's parameters in each transformer layer form one unit.

``unfreeze run --adapter peft-lora`` injects the adapter into the engine's model with
``peft.inject_adapter_in_model`` (the model keeps its class and its task head); in a Hugging Face
``Trainer`` script, ``UnfreezeCallback(peft_model, backend="peft-lora")`` finds the units of a
``PeftModel`` the user built with ``get_peft_model``. Either way a unit holds only the adapter's weights
(``lora_A``/``lora_B``, ``ia3_l``) of the PEFT layers inside one transformer layer, never the wrapped
base layer's frozen weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from unfreeze_core.api import AdapterBackend

LAYER_INDEX = re.compile(r"(?:^|\.)(?:layers|layer|h|block|blocks)\.(\d+)(?:\.|$)")
"""A transformer layer in a module's qualified name (PEFT's COMMON_LAYERS_PATTERN): ``encoder.layer.3.``."""

MODEL_TYPE_ALIASES = {"xlm-roberta": "roberta", "camembert": "roberta"}


def tuner_layers(model) -> list[tuple[str, object]]:
    """``(qualified name, layer)`` of every PEFT tuner layer (``BaseTunerLayer``) in ``model``."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    return [(name, module) for name, module in model.named_modules() if isinstance(module, BaseTunerLayer)]


def layer_index(name: str) -> int:
    found = LAYER_INDEX.findall(name)
    if not found:
        raise ValueError(f"the PEFT layer {name} is in no transformer layer: target modules inside the layers only "
                         "(a head or pooler layer belongs to no unit; train it with modules_to_save)")
    return int(found[-1])


def adapter_parts(layer, adapter: str) -> list[tuple[str, object, list]]:
    """``(suffix, module, [(name, parameter)])`` for each part of ``adapter`` in a tuner layer: ``lora_A``,
    ``lora_B`` (modules), ``ia3_l`` (a parameter in a ParameterDict: the module is the dict) ..."""
    import torch.nn as nn

    parts = []
    for attr in layer.adapter_layer_names:
        container = getattr(layer, attr, None)
        if container is None or adapter not in container:
            continue
        item = container[adapter]
        if isinstance(item, nn.Module):
            parts.append((f"{attr}.{adapter}", item, list(item.named_parameters())))
        else:
            parts.append((f"{attr}.{adapter}", container, [("", item)]))
    return parts


class PeftBackend(AdapterBackend):
    """A PEFT method as a backend; subclasses give ``peft_config(model)``. One unit per transformer layer."""

    method = "peft"

    @dataclass
    class Options:
        adapter: str = "default"
        """Name of the PEFT adapter (``PeftModel``'s ``active_adapter``)."""

        def __post_init__(self):
            import re

            # the name becomes a key of torch's ModuleDict in every adapted layer: no '.', not empty
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", self.adapter):
                raise ValueError(f"adapter {self.adapter!r} must be a name of letters, digits, '_' and '-' (no '.'), "
                                 f"starting with a letter or '_': PEFT makes it a module name in every layer")

    # -- setting up (unfreeze run) ---------------------------------------------------------------------------
    def peft_config(self, model):
        raise NotImplementedError

    def setup(self, model, *, train_language, languages, model_name):
        from peft import inject_adapter_in_model

        from unfreeze_core.backend_checks import head_parameter_ids

        head = head_parameter_ids(model)
        flags = {id(p): p.requires_grad for p in model.parameters() if id(p) in head}
        config = self.peft_config(model)
        config.base_model_name_or_path = model_name
        inject_adapter_in_model(config, model, adapter_name=self.options.adapter)  # freezes all but the adapter
        for p in model.parameters():
            if id(p) in flags:
                p.requires_grad_(flags[id(p)])  # the task head trains as before

    @staticmethod
    def default_targets(model, mapping: dict) -> list[str]:
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        targets = mapping.get(model_type) or mapping.get(MODEL_TYPE_ALIASES.get(model_type))
        if not targets:
            raise ValueError(f"no default target modules for model type {model_type!r}: give -o target_modules=...")
        return list(targets)

    # -- units ------------------------------------------------------------------------------------------------
    def _layers(self, model) -> dict[int, list[tuple[str, object]]]:
        """Transformer layer -> the tuner layers of ``self.options.adapter`` inside it."""
        adapter = self.options.adapter
        found: dict[int, list] = {}
        layers = tuner_layers(model)
        if not layers:
            raise ValueError(f"the model has no PEFT adapter layers ({self.method}: build it with get_peft_model, "
                             "or let unfreeze run set it up)")
        for name, layer in layers:
            if not adapter_parts(layer, adapter):
                continue
            if getattr(layer, "use_dora", {}).get(adapter, False):
                raise ValueError(f"{name}: DoRA (use_dora=True) is not supported: its weight norm couples lora_A and "
                                 "lora_B outside their forward")
            found.setdefault(layer_index(name), []).append((name, layer))
        if not found:
            known = sorted({a for _, layer in layers for a in getattr(layer, "active_adapters", [])})
            raise ValueError(f"the model has no PEFT adapter {adapter!r} (active: {', '.join(known) or 'none'}; "
                             "-o adapter=NAME)")
        return dict(sorted(found.items()))

    def units(self, model):
        return {unit: [(f"{name}.{suffix}{'.' + pname if pname else ''}", p)
                       for name, layer in layers
                       for suffix, _, params in adapter_parts(layer, self.options.adapter) for pname, p in params]
                for unit, layers in self._layers(model).items()}

    def unit_modules(self, model):
        """lora_A and lora_B as the ``nn.Linear`` modules they are (the exact estimator decomposes them in one
        backward); (IA)³'s scaling vectors as their ParameterDict (per-example loop)."""
        return {unit: [module for _, layer in layers for _, module, _ in adapter_parts(layer, self.options.adapter)]
                for unit, layers in self._layers(model).items()}

    # -- saving -----------------------------------------------------------------------------------------------
    def save(self, model, directory):
        """PEFT's own format (what ``PeftModel.save_pretrained`` writes: ``adapter_config.json`` and
        ``adapter_model.safetensors``, loaded by ``PeftModel.from_pretrained``), and the task head in
        ``head.safetensors`` (parameter name -> tensor)."""
        from pathlib import Path

        from peft.utils import get_peft_model_state_dict
        from safetensors.torch import save_file

        from unfreeze_core.backend_checks import head_parameter_ids

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        adapter = self.options.adapter
        if hasattr(model, "save_pretrained") and hasattr(model, "get_base_model"):  # a PeftModel
            model.save_pretrained(str(directory), selected_adapters=[adapter], save_embedding_layers=False)
        else:
            model.peft_config[adapter].save_pretrained(str(directory))
            state = get_peft_model_state_dict(model, adapter_name=adapter, save_embedding_layers=False)
            # the names a PeftModel around this model gives them, as PeftModel.from_pretrained expects
            save_file({f"base_model.model.{k}": v.detach().contiguous() for k, v in state.items()},
                      str(directory / "adapter_model.safetensors"))
        head = head_parameter_ids(model)
        save_file({n: p.detach().contiguous() for n, p in model.named_parameters() if id(p) in head},
                  str(directory / "head.safetensors"))


def load_saved(model, directory, adapter: str = "default"):
    """A model (with its task head added) given back what ``save`` wrote: the PEFT adapter injected and its
    weights and the head's loaded. Returns the ``PeftModel`` around ``model``."""
    from pathlib import Path

    from peft import PeftModel
    from safetensors.torch import load_file

    peft_model = PeftModel.from_pretrained(model, str(directory), adapter_name=adapter)
    head = Path(directory) / "head.safetensors"
    if head.is_file():
        missing = set(load_file(str(head))) - {n for n, _ in model.named_parameters()}
        if missing:
            raise ValueError(f"{head}: the model has no {sorted(missing)[0]}")
        model.load_state_dict(load_file(str(head)), strict=False)
    return peft_model


class PeftLoRA(PeftBackend):
    """PEFT's LoRA (default on query and value, r=8, alpha=8 as ``--adapter lora``)."""

    method = "peft-lora"

    @dataclass
    class Options(PeftBackend.Options):
        r: int = 8
        alpha: int = 8
        dropout: float = 0.0
        target_modules: list[str] | None = None
        """Modules to adapt in every layer (default: PEFT's choice for the model type, query and value)."""

        def __post_init__(self):
            super().__post_init__()
            from unfreeze_core.limits import MAX_COUNT

            if not 0 < self.r <= MAX_COUNT or not 0 < self.alpha <= MAX_COUNT:
                raise ValueError(f"r and alpha must be in 1..{MAX_COUNT}, got r={self.r}, alpha={self.alpha}")
            if not 0 <= self.dropout < 1:
                raise ValueError("dropout must be in [0, 1)")

    def peft_config(self, model):
        from peft import LoraConfig
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as TARGETS

        o = self.options
        return LoraConfig(r=o.r, lora_alpha=o.alpha, lora_dropout=o.dropout,
                          target_modules=o.target_modules or self.default_targets(model, TARGETS))


class PeftIA3(PeftBackend):
    """PEFT's (IA)³: learned scaling vectors (default on key, value and the feed-forward output)."""

    method = "peft-ia3"

    @dataclass
    class Options(PeftBackend.Options):
        target_modules: list[str] | None = None
        feedforward_modules: list[str] | None = None
        """Which of target_modules scale their input instead of their output (default: PEFT's choice)."""

    def peft_config(self, model):
        from peft import IA3Config
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING as FEEDFORWARD
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING as TARGETS

        o = self.options
        return IA3Config(target_modules=o.target_modules or self.default_targets(model, TARGETS),
                         feedforward_modules=o.feedforward_modules if o.feedforward_modules is not None
                         else [] if o.target_modules else self.default_targets(model, FEEDFORWARD))
