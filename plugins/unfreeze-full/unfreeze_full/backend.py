"""Full fine-tuning as units: each encoder layer's own weights are one unit (``trains_base_weights``).

No adapter is added. ``setup`` freezes the model's body (``model.base_model``) except the encoder layers and,
by the ``embeddings`` option, the weights outside them; the task head stays trainable. With the engine's
selectors this is plain full fine-tuning (``standard``), ULMFiT's gradual unfreezing (``topdown``: the top
layer first, one more every k steps) and LPFT (``lpft``: the head alone for k steps, then every unit), and FUN
picks whole layers by their tr(F).

Weights outside the layers ("outside": the embeddings, and any other weight of the body used by every layer,
such as DeBERTa-v2's relative position embeddings ``encoder.rel_embeddings`` and their ``encoder.LayerNorm``)
follow ``-o embeddings=``:

- ``unit`` (default): one unit of their own, unit 0 (the bottom); the layers are units 1..L, so there are L+1
  units. ``topdown`` unfreezes them last, as ULMFiT does; ``lpft`` and ``standard`` train them as full
  fine-tuning does.
- ``head``: trained from step 0 with the head (``shared_parameters``); the layers are units 0..L-1.
- ``frozen``: never trained; the layers are units 0..L-1.

The pooler (BERT's and XLM-R's ``pooler.dense``) is never trained: the heads unfreeze's tasks add read the
first token's hidden state, not the pooler, so it gets no gradient (``tests/test_full.py`` checks it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from unfreeze_core.api import AdapterBackend

LAYER = re.compile(r"^(?:.*\.)?(?:layer|layers)\.(\d+)\.")
"""An encoder layer in a parameter's name inside the body: ``encoder.layer.3.attention.self.query.weight``
(BERT, XLM-R, mBERT, DeBERTa-v2)."""

POLICIES = ("unit", "head", "frozen")


def body(model):
    """The model's body (``model.base_model``): everything but the task head."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    found = getattr(inner, "base_model", None)
    if found is None or found is inner:
        raise ValueError(f"{type(model).__name__} has no distinct body (base_model) beside its head")
    return found


def is_pooler(name: str) -> bool:
    return name.split(".")[0] == "pooler"


def parts(model) -> tuple[dict[int, list], list, list]:
    """The body's parameters as (layer index -> [(name, p)], outside [(name, p)], pooler [(name, p)]); names are
    the model's own (``model.named_parameters()``)."""
    full_names = {id(p): n for n, p in model.named_parameters()}
    layers: dict[int, list] = {}
    outside, pooler = [], []
    for name, p in body(model).named_parameters():
        named = (full_names.get(id(p), name), p)
        found = LAYER.match(name)
        if found:
            layers.setdefault(int(found.group(1)), []).append(named)
        elif is_pooler(name):
            pooler.append(named)
        else:
            outside.append(named)
    if not layers:
        raise ValueError(f"no encoder layers (encoder.layer.N) in the body of {type(model).__name__}: "
                         "the full backend knows BERT, XLM-R and DeBERTa-v2 style encoders")
    if sorted(layers) != list(range(len(layers))):
        raise ValueError(f"encoder layers {sorted(layers)} are not numbered 0..L-1")
    return dict(sorted(layers.items())), outside, pooler


def owning_modules(model, params: list) -> list:
    """The modules that hold ``params`` directly (nn.Linear, LayerNorm, Embedding ...), each once."""
    ids = {id(p) for _, p in params}
    return [m for m in model.modules() if any(id(p) in ids for p in m.parameters(recurse=False))]


class Full(AdapterBackend):
    """Full fine-tuning: one unit per encoder layer (its own weights), the weights outside the layers by
    ``embeddings`` (a unit of their own, trained with the head, or frozen)."""

    trains_base_weights = True

    @dataclass
    class Options:
        embeddings: str = "unit"
        """Weights outside the encoder layers (embeddings; DeBERTa-v2's relative position embeddings):
        unit (unit 0 of their own, the layers 1..L) | head (trained from step 0 with the head) | frozen."""

        def __post_init__(self):
            if self.embeddings not in POLICIES:
                raise ValueError(f"embeddings must be one of {', '.join(POLICIES)}, got {self.embeddings!r}")

    @property
    def offset(self) -> int:
        """The unit of encoder layer 0 (1 when the outside weights are unit 0)."""
        return 1 if self.options.embeddings == "unit" else 0

    def num_units(self, model_config):
        layers = getattr(model_config, "num_hidden_layers", None)
        return None if layers is None else layers + self.offset

    def setup(self, model, *, train_language, languages, model_name):
        layers, outside, pooler = parts(model)
        for p in body(model).parameters():
            p.requires_grad_(False)
        for params in layers.values():
            for _, p in params:
                p.requires_grad_(True)
        if self.options.embeddings != "frozen":
            for _, p in outside:
                p.requires_grad_(True)

    def units(self, model):
        layers, outside, _ = parts(model)
        units = {index + self.offset: params for index, params in layers.items()}
        if self.options.embeddings == "unit":
            units[0] = outside
        return dict(sorted(units.items()))

    def unit_modules(self, model):
        return {unit: owning_modules(model, params) for unit, params in self.units(model).items()}

    def shared_parameters(self, model):
        if self.options.embeddings != "head":
            return []
        return [name for name, _ in parts(model)[1]]

    def save(self, model, directory):
        """The whole fine-tuned model with its head (``save_pretrained``, safetensors): what
        ``adapters.AutoAdapterModel.from_pretrained(directory)`` loads back."""
        model.save_pretrained(str(directory), safe_serialization=True)
