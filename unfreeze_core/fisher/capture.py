"""The per-example norm engine: Σ_params ||∇ log p(ŷ_i|x_i)||² per example and per unit, in one backward.

``PerExampleSquaredNorms`` hooks the units' modules, records each trainable layer's input in the
forward and asks autograd for the gradient at its output only; ``norms.py`` turns the pair into
per-example squared norms. ``nn.Linear`` is used as it is; ``adapters``' LoRA and (IA)³ modules are
re-expressed as Linear-like uses (same operations, same numbers). Any other module's parameters go
to the exact per-example loop (``loop.py``); ``per_example_sq_norms`` combines both.

Usage (a self-contained example; ``tests/test_fisher.py`` runs it)::

    >>> import torch
    >>> from unfreeze_core.fisher import PerExampleSquaredNorms, per_example_sq_norms, sample_labels
    >>> class Task:                                   # which logits ŷ is drawn from (one tensor per head)
    ...     def output_distributions(self, outputs):
    ...         return [outputs]
    >>> class Model(torch.nn.Module):                 # called as model(**inputs), like a transformers model
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden, self.head = torch.nn.Linear(4, 8), torch.nn.Linear(8, 3)
    ...     def forward(self, x):
    ...         return self.head(torch.relu(self.hidden(x)))
    >>> _ = torch.manual_seed(0)
    >>> model, task = Model().eval(), Task()          # eval mode: dropout off
    >>> unit_modules = {0: [model.hidden], 1: [model.head]}   # unit -> the modules holding its parameters
    >>> inputs = {"x": torch.randn(5, 4)}             # a batch of B = 5 examples, gold labels removed
    >>> with PerExampleSquaredNorms(unit_modules, fallback=True) as capture:
    ...     dists = task.output_distributions(model(**inputs))                 # the one forward, recorded
    ...     labels = sample_labels(dists, torch.Generator().manual_seed(0))    # ŷ: one [B] tensor per head
    ...     norms = per_example_sq_norms(capture, model, task, inputs, dists, labels)
    >>> sorted(norms), tuple(norms[1].shape)          # {unit: [B] squared gradient norms}
    ([0, 1], (5,))
    >>> tr_f = {unit: float(values.mean()) for unit, values in norms.items()}   # Eq. 1 on this batch

The parameters must require grad (only the units' parameters, for speed) and the rows of a batch
must be example-major ([B·m, ...], e.g. multiple choice).
"""

from __future__ import annotations

from contextlib import contextmanager

from .labels import log_probs
from .loop import loop_sq_norms
from .norms import bias_sq_norms, by_example, linear_sq_norms


class _LinearUse:
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


def _adapters_classes():
    """``adapters``' LoRA and (IA)³ module classes (None where this version lacks one)."""
    try:
        from adapters.methods import lora
    except ImportError:  # pragma: no cover - adapters is a dependency of every backend here
        return None, None
    return getattr(lora, "LoRA", None), getattr(lora, "IA3", None)


class PerExampleSquaredNorms:
    """Capture the units' layer inputs in the forward; ``compute`` returns {unit: [B] squared grad norms}.

    Decomposed in the one batched backward (exact, no loop over examples):

    - ``nn.Linear`` (exactly that type: bottleneck adapters' down/up projections, gates);
    - ``adapters``' ``LoRA`` (its forward is re-expressed as u = x Aᵀ, v = u Bᵀ, out = v·scaling (or
      ·gate), numerically the same ops, so that A and B are two Linear-like uses);
    - ``adapters``' ``IA3`` (the scaling vector b is re-expressed as v = b repeated per row, out = v·scaling
      (or ·gate), so b is used like a bias).

    Any other module holding a trainable parameter (DoRA, VeRA, a LayerNorm, a custom module ...) is
    unsupported here: with ``fallback=False`` it raises; with ``fallback=True`` its parameters are listed
    in ``self.fallback`` ({unit: [parameters]}) for ``loop_sq_norms``, which gets their per-example
    gradients exactly by one backward per example (``per_example_sq_norms`` does both). Rows of a
    batch must be example-major ([B·m, ...]); dropout must be off (eval mode).

    ``unit_modules``: {unit: [modules holding its parameters]} (a backend's ``unit_modules(model)``).
    Used as a context manager around the forward (the hooks are removed on exit)::

        with PerExampleSquaredNorms(backend.unit_modules(model), fallback=True) as capture:
            dists = task.output_distributions(model(**inputs))
            labels = sample_labels(dists, generator)            # ŷ: one [B] tensor per head
            norms = per_example_sq_norms(capture, model, task, inputs, dists, labels)   # {unit: [B]}

    (a complete, runnable example: this module's docstring).
    """

    def __init__(self, unit_modules: dict[int, list], fallback: bool = False):
        self.unit_modules = unit_modules
        self.allow_fallback = fallback
        self.uses: dict[int, list[_LinearUse]] = {}
        self.fallback: dict[int, list] = {}
        self.handles = []
        self.active = True

    def __enter__(self):
        for unit, modules in self.unit_modules.items():
            self.uses.setdefault(unit, [])
            for top in modules:
                self._visit(unit, top)
        return self

    def _visit(self, unit, module):
        import torch.nn as nn

        lora_cls, ia3_cls = _adapters_classes()
        uses = self.uses[unit]
        own = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if type(module) is nn.Linear:
            if own:
                use = _LinearUse(module.weight if module.weight.requires_grad else None,
                                 module.bias if module.bias is not None and module.bias.requires_grad else None)
                uses.append(use)
                self.handles.append(module.register_forward_hook(self._linear_hook(use)))
            return
        if lora_cls is not None and type(module) is lora_cls and not getattr(module, "use_dora", False):
            a_use = _LinearUse(module.lora_A if module.lora_A.requires_grad else None, None)
            b_use = _LinearUse(module.lora_B if module.lora_B.requires_grad else None, None)
            uses += [a_use, b_use]
            self.handles.append(module.register_forward_hook(self._lora_hook(a_use, b_use), with_kwargs=True))
        elif ia3_cls is not None and type(module) is ia3_cls and not getattr(module, "use_dora", False):
            b_use = _LinearUse(None, module.lora_B if module.lora_B.requires_grad else None)
            uses.append(b_use)
            self.handles.append(module.register_forward_hook(self._ia3_hook(b_use), with_kwargs=True))
        elif own:
            if not self.allow_fallback:
                raise NotImplementedError(
                    f"per-example gradient norms: unsupported trainable module {type(module).__name__}"
                    " (use PerExampleSquaredNorms(..., fallback=True) and loop_sq_norms for it)")
            self.fallback.setdefault(unit, []).extend(p for p in module.parameters() if p.requires_grad)
            return  # the whole subtree is handled by the per-example loop
        for child in module.children():
            self._visit(unit, child)

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()
        self.handles = []
        for uses in self.uses.values():
            for use in uses:
                use.clear()

    @contextmanager
    def paused(self):
        """Forwards inside run the modules unchanged and capture nothing (the per-example loop's)."""
        self.active = False
        try:
            yield self
        finally:
            self.active = True

    def _linear_hook(self, use):
        def hook(module, args, output):
            if self.active:
                use.add(args[0], output)
        return hook

    @staticmethod
    def _lora_inputs(args, kwargs):
        names = ("hidden_states", "layer_input")
        values = dict(zip(names, args), **{k: v for k, v in kwargs.items() if k in names})
        return values.get("hidden_states"), values["layer_input"]

    def _lora_hook(self, a_use, b_use):
        import torch
        import torch.nn as nn

        def hook(module, args, kwargs, output):
            if not self.active or not torch.is_grad_enabled():
                return None
            hidden, layer_input = self._lora_inputs(args, kwargs)
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
        return hook

    def _ia3_hook(self, b_use):
        import torch

        def hook(module, args, kwargs, output):
            if not self.active or not torch.is_grad_enabled():
                return None
            hidden, layer_input = self._lora_inputs(args, kwargs)
            v = module.lora_B.view(1, 1, -1).repeat(layer_input.shape[0], 1, 1)  # one row per example
            b_use.add(None, v)
            out = v if hidden is None else hidden * v
            _, gate = output
            return (out * gate if module.use_gating else out * module.scaling), gate
        return hook

    def compute(self, objective, num_examples: int) -> dict:
        """Backpropagate ``objective`` (Σ_i log p(ŷ_i|x_i)) once; per unit, the [num_examples] squared norms
        of the decomposed modules' parameters (not of ``self.fallback``'s)."""
        import torch

        captured = [(unit, use) for unit, uses in self.uses.items() for use in uses if use.outputs]
        outputs = [out for _, use in captured for out in use.outputs]
        grads = torch.autograd.grad(objective, outputs, allow_unused=True) if outputs else []
        norms = {unit: None for unit in self.uses}
        i = 0
        for unit, use in captured:
            gs = [torch.zeros_like(o) if g is None else g for o, g in zip(use.outputs, grads[i:i + len(use.outputs)])]
            i += len(use.outputs)
            if use.weight is None and use.bias is None:
                continue
            if use.weight is not None:
                part = linear_sq_norms(use.inputs, gs, num_examples, bias=use.bias is not None)
            else:
                part = bias_sq_norms(gs, num_examples)
            norms[unit] = part if norms[unit] is None else norms[unit] + part
        for uses in self.uses.values():
            for use in uses:
                use.clear()
        device = objective.device
        return {unit: torch.zeros(num_examples, device=device) if v is None else v for unit, v in norms.items()}


def per_example_sq_norms(capture: PerExampleSquaredNorms, model, task, inputs: dict, dists: list,
                         labels: list) -> dict:
    """{unit: [B] squared gradient norms per example} of every unit parameter, after the forward that
    ``capture`` recorded: the decomposed modules from one batched backward of Σ_i log p(ŷ_i|x_i),
    ``capture.fallback``'s by ``loop_sq_norms`` (one backward per example).

    ``inputs``: the batch without gold labels (``model(**inputs)``, used only by the loop fallback);
    ``dists``: ``task.output_distributions`` of that forward (one logits tensor per head, [B, classes]);
    ``labels``: ŷ per head, each a [B] tensor of class indices (``sample_labels`` / ``argmax_labels``).
    Usage: see this module's docstring."""
    n = dists[0].shape[0]
    norms = capture.compute(log_probs(dists, labels).sum(), n)
    if capture.fallback:
        with capture.paused():
            extra = loop_sq_norms(model, task, inputs, labels, capture.fallback)
        for u, values in extra.items():
            norms[u] = norms[u] + values.to(device=norms[u].device, dtype=norms[u].dtype)
    return norms


__all__ = ["PerExampleSquaredNorms", "per_example_sq_norms"]
