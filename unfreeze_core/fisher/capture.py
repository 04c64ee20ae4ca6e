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

from . import layers
from .labels import log_probs
from .loop import loop_sq_norms
from .norms import bias_sq_norms, by_example, linear_sq_norms


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
        self.uses: dict[int, list[layers.LinearUse]] = {}
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
        rewrite = layers.rewriting(module)
        if rewrite is not None:
            if any(p.requires_grad for p in module.parameters(recurse=False)):
                uses, hook = rewrite(module, lambda: self.active)
                self.uses[unit] += uses
                self.handles.append(module.register_forward_hook(hook, with_kwargs=rewrite is not layers.linear))
        elif any(p.requires_grad for p in module.parameters(recurse=False)):
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
