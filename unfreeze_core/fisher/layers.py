"""One rewriting per layer kind: how each supported module's trainable parameters are used, as Linear-like uses.

A *use* is a weight used as ``out = inp @ weight.T (+ bias)``, or a vector used like a bias (added to, or
repeated into, every row); ``norms.py`` turns its recorded (input, output-gradient) pairs into per-example
squared norms. Each kind gives its uses and the forward hook that records them:

- ``nn.Linear`` (exactly that type: bottleneck adapters' down/up projections, gates): itself.
- ``adapters``' ``LoRA``: its forward re-expressed as u = x Aᵀ, v = u Bᵀ, out = v·scaling (or ·gate),
  numerically the same operations, so that A and B are two Linear-like uses.
- ``adapters``' ``IA3``: the scaling vector b re-expressed as v = b repeated per row, out = v·scaling
  (or ·gate), so b is used like a bias.

A hook records only while ``active()`` is true (the per-example loop's forwards run with it false).
"""

from __future__ import annotations


class LinearUse:
    """A weight used as ``out = inp @ weight.T (+ bias)`` (or a bias-like vector when ``weight`` is None:
    ``out`` = the vector repeated per row); one (inp, out) pair per call in the forward."""

    __slots__ = ("weight", "bias", "inputs", "outputs")

    def __init__(self, weight, bias):
        self.weight, self.bias = weight, bias
        self.inputs, self.outputs = [], []

    def add(self, inp, out):
        if out.requires_grad:
            self.inputs.append(None if inp is None else inp.detach())
            self.outputs.append(out)

    def clear(self):
        self.inputs, self.outputs = [], []


def _trainable(param):
    return param if param is not None and param.requires_grad else None


def linear(module, active):
    """``nn.Linear``: one use, recorded from the layer's own input and output."""
    use = LinearUse(_trainable(module.weight), _trainable(module.bias))

    def hook(module, args, output):
        if active():
            use.add(args[0], output)
    return [use], hook


def _inputs(args, kwargs):
    names = ("hidden_states", "layer_input")
    values = dict(zip(names, args), **{k: v for k, v in kwargs.items() if k in names})
    return values.get("hidden_states"), values["layer_input"]


def lora(module, active):
    """``adapters``' LoRA: A and B as two Linear-like uses (x -> u -> v), the output recomputed from them."""
    import torch
    import torch.nn as nn

    a_use, b_use = LinearUse(_trainable(module.lora_A), None), LinearUse(_trainable(module.lora_B), None)

    def hook(module, args, kwargs, output):
        if not active() or not torch.is_grad_enabled():
            return None
        hidden, layer_input = _inputs(args, kwargs)
        x = layer_input if hidden is None else hidden
        dropout = module.lora_dropout
        if isinstance(dropout, nn.Dropout) and dropout.training and dropout.p > 0:
            raise RuntimeError("per-example norms need LoRA dropout off: estimate in eval mode")
        u = x @ torch.t(module.lora_A)
        v = u @ torch.t(module.lora_B)
        a_use.add(x, u)
        b_use.add(u, v)
        _, gate = output
        return (v * gate if module.use_gating else v * module.scaling), gate
    return [a_use, b_use], hook


def ia3(module, active):
    """``adapters``' (IA)³: b repeated once per row, a bias-like use; the output recomputed from it."""
    import torch

    b_use = LinearUse(None, _trainable(module.lora_B))

    def hook(module, args, kwargs, output):
        if not active() or not torch.is_grad_enabled():
            return None
        hidden, layer_input = _inputs(args, kwargs)
        v = module.lora_B.view(1, 1, -1).repeat(layer_input.shape[0], 1, 1)  # one row per example
        b_use.add(None, v)
        out = v if hidden is None else hidden * v
        _, gate = output
        return (out * gate if module.use_gating else out * module.scaling), gate
    return [b_use], hook


def rewriting(module):
    """The rewriting for ``module``'s kind (``linear``, ``lora`` or ``ia3``; exact type match), or None."""
    import torch.nn as nn

    if type(module) is nn.Linear:
        return linear
    if getattr(module, "use_dora", False):
        return None
    lora_cls, ia3_cls = _adapters_classes()
    if lora_cls is not None and type(module) is lora_cls:
        return lora
    if ia3_cls is not None and type(module) is ia3_cls:
        return ia3
    return None


def _adapters_classes():
    """``adapters``' LoRA and (IA)³ module classes (None where this version lacks one)."""
    try:
        from adapters.methods import lora as methods
    except ImportError:  # pragma: no cover - adapters is a dependency of every backend here
        return None, None
    return getattr(methods, "LoRA", None), getattr(methods, "IA3", None)


__all__ = ["LinearUse", "linear", "lora", "ia3", "rewriting"]
