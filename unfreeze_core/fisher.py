"""tr(F) estimation: the shared machinery every estimator plugin may reuse.

- ``fisher_scores`` runs an estimator without disturbing training: on a deep copy of the model, or
  (``in_place=True``, single process only) on the live model with requires_grad flags, train/eval
  mode and any ``.grad`` saved and restored around the estimate. Either way the model is in eval
  mode (dropout off, as the released code estimates) and every unit requires grad.
- ``sample_labels`` / ``argmax_labels`` / ``log_probs`` turn a task's ``output_distributions``
  (one logits tensor per categorical head: classification [B, C], multiple choice [B, choices],
  QA start and end [B, T]) into ŷ and Σ_heads log p(ŷ_head | x) per example.
- ``StopWhenRanked`` wraps an estimator that streams per-example values (``stream``) and stops once
  the best of some candidate units is ahead of every other candidate with confidence (FUN's use).
- ``PerExampleSquaredNorms`` computes, inside one batched backward pass, Σ_params ||∇ log p(ŷ_i|x_i)||²
  per example and per unit, for nn.Linear layers and for ``adapters``' LoRA (lora_A, lora_B) and
  (IA)³ (lora_B) modules, from the layers' inputs and the gradients at their outputs; other modules'
  parameters go to ``loop_sq_norms`` (one backward per example) through ``per_example_sq_norms``.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

LABEL_KEYS = ("labels", "label", "start_positions", "end_positions")


def model_inputs(batch: dict) -> dict:
    """The batch without its gold labels: the estimators never look at them (and the model skips its loss)."""
    return {k: v for k, v in batch.items() if k not in LABEL_KEYS}


# -- ŷ and log p(ŷ|x) ---------------------------------------------------------------------------------


def sample_labels(distributions, generator=None) -> list:
    """ŷ per head, drawn from softmax(logits) with ``generator`` (never the global RNG).

    Exactly ``torch.multinomial(softmax(logits.float(), -1), 1, generator=generator)`` per head, in
    order, on the generator's device. QA heads (start, end) are drawn independently.
    """
    import torch

    labels = []
    for logits in distributions:
        probs = torch.softmax(logits.detach().float(), dim=-1)
        device = generator.device if generator is not None else probs.device
        drawn = torch.multinomial(probs.to(device), 1, generator=generator).squeeze(1)
        labels.append(drawn.to(logits.device))
    return labels


def argmax_labels(distributions) -> list:
    return [logits.detach().argmax(dim=-1) for logits in distributions]


def log_probs(distributions, labels):
    """Σ_heads log softmax(logits)[ŷ] per example: a [B] tensor (float32 at least)."""
    import torch

    total = 0
    for logits, y in zip(distributions, labels):
        logp = torch.log_softmax(logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits, -1)
        total = total + logp.gather(-1, y.unsqueeze(-1)).squeeze(-1)
    return total


# -- running an estimator without disturbing training -------------------------------------------------


@contextmanager
def estimation_mode(model, units: dict):
    """Eval mode, only the units' parameters requiring grad; everything restored on exit (grads included)."""
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    grads = [p.grad for p in params]
    modes = {m: m.training for m in model.modules()}
    unit_ids = {id(p) for ps in units.values() for _, p in ps}
    try:
        model.eval()
        for p in params:
            p.requires_grad_(id(p) in unit_ids)
        yield model
    finally:
        for p, flag, grad in zip(params, flags, grads):
            p.requires_grad_(flag)
            p.grad = grad
        for m, training in modes.items():
            m.training = training


def fisher_scores(model, backend, task, estimator, batches, generator=None, *, in_place: bool = False
                  ) -> dict[int, float]:
    """tr(F) per unit with every unit trainable, in eval mode, leaving ``model`` and training untouched.

    ``in_place=False`` works on a deep copy (the paper's Algorithm 2, safe under DDP);
    ``in_place=True`` works on the live (unwrapped, single-process) model and restores it exactly.
    """
    import torch

    probe = model if in_place else copy.deepcopy(model)
    units = backend.units(probe)
    with estimation_mode(probe, units), torch.enable_grad():
        scores = estimator.estimate(probe, units=units, unit_modules=backend.unit_modules(probe), task=task,
                                    batches=batches, generator=generator)
    return {int(u): float(s) for u, s in scores.items()}


# -- per-example squared gradient norms in one backward ------------------------------------------------


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


def _by_example(tensors, n):
    """[n·m, ..., d] tensors (one per call) -> [n, tokens, d], example-major (multiple choice: m choices)."""
    import torch

    parts = []
    for t in tensors:
        if t.shape[0] % n:
            raise ValueError(f"a unit saw {t.shape[0]} rows for {n} examples: cannot attribute rows to examples")
        parts.append(t.reshape(n, -1, t.shape[-1]))
    out = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
    return out.to(torch.promote_types(out.dtype, torch.float32))


def uses_gram(tokens: int, d_in: int, d_out: int) -> bool:
    """Whether ``linear_sq_norms`` takes the Gram-matrix route (cheaper when T·(in+out) < in·out)."""
    return tokens * (d_in + d_out) < d_in * d_out


def gram_sq_norms(a, g):
    """Per-example Σ_{t,t'} (g_t·g_t')(a_t·a_t') = ||Σ_t g_t a_tᵀ||² from a [n, T, in], g [n, T, out]."""
    import torch

    return (torch.bmm(a, a.transpose(1, 2)) * torch.bmm(g, g.transpose(1, 2))).sum(dim=(1, 2))


def outer_sq_norms(a, g):
    """Per-example ||Σ_t g_t a_tᵀ||² by materialising the per-example gradients [n, out, in]."""
    import torch

    return torch.bmm(g.transpose(1, 2), a).pow(2).sum(dim=(1, 2))


def linear_sq_norms(inputs, grads, n, bias: bool):
    """Per-example ||Σ_t g_t a_tᵀ||² (+ ||Σ_t g_t||² for the bias) from inputs a and output grads g.

    Uses Gram matrices (``gram_sq_norms``) when ``uses_gram``, else materialises the per-example
    gradients (``outer_sq_norms``)."""
    a, g = _by_example(inputs, n), _by_example(grads, n)
    norms = gram_sq_norms(a, g) if uses_gram(a.shape[1], a.shape[2], g.shape[2]) else outer_sq_norms(a, g)
    if bias:
        norms = norms + g.sum(dim=1).pow(2).sum(dim=-1)
    return norms


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
                part = _by_example(gs, num_examples).sum(dim=1).pow(2).sum(dim=-1)
            norms[unit] = part if norms[unit] is None else norms[unit] + part
        for uses in self.uses.values():
            for use in uses:
                use.clear()
        device = objective.device
        return {unit: torch.zeros(num_examples, device=device) if v is None else v for unit, v in norms.items()}


def loop_sq_norms(model, task, inputs: dict, labels: list, params: dict[int, list]) -> dict:
    """{unit: [B] Σ_params ||∇ log p(ŷ_i|x_i)||²} for ``params`` by one forward and backward per example
    (exact for any module, B times the cost): the fallback for modules ``PerExampleSquaredNorms`` cannot
    decompose. ``inputs`` is a batch without labels, ``labels`` the ŷ per head drawn for the whole batch."""
    import torch

    n = labels[0].shape[0]
    flat = [p for ps in params.values() for p in ps]
    out = {u: torch.zeros(n, dtype=torch.float64) for u in params}
    for i in range(n):
        one = {k: v[i:i + 1] for k, v in inputs.items()}
        logp = log_probs(task.output_distributions(model(**one)), [y[i:i + 1] for y in labels]).sum()
        grads = iter(torch.autograd.grad(logp, flat, allow_unused=True))
        for u, ps in params.items():
            out[u][i] = sum(float(g.double().pow(2).sum()) for g in (next(grads) for _ in ps) if g is not None)
    return out


def per_example_sq_norms(capture: PerExampleSquaredNorms, model, task, inputs: dict, dists: list,
                         labels: list) -> dict:
    """{unit: [B] squared gradient norms per example} of every unit parameter: the decomposed modules from
    one batched backward of Σ_i log p(ŷ_i|x_i), ``capture.fallback``'s by ``loop_sq_norms``."""
    n = dists[0].shape[0]
    norms = capture.compute(log_probs(dists, labels).sum(), n)
    if capture.fallback:
        with capture.paused():
            extra = loop_sq_norms(model, task, inputs, labels, capture.fallback)
        for u, values in extra.items():
            norms[u] = norms[u] + values.to(device=norms[u].device, dtype=norms[u].dtype)
    return norms


# -- sequential stopping: as few batches as the decision needs ----------------------------------------


class StopWhenRanked:
    """An estimator wrapper: read batches until the best ``candidates`` unit leads every other candidate
    by ``z`` standard errors of the paired per-example difference (same examples, same ŷ), after at least
    ``min_batches``; at most all the batches given. Needs ``inner.stream`` (per-batch {unit: [B] values},
    whose mean over examples is the estimate); otherwise, or with ``z <= 0``, it is ``inner`` unchanged.
    ``batches_used`` tells how many batches the last estimate read."""

    def __init__(self, inner, candidates, z: float = 3.0, min_batches: int = 5):
        self.inner, self.candidates, self.z, self.min_batches = inner, list(candidates), z, min_batches
        self.batches_used = None

    def estimate(self, model, *, units, unit_modules, task, batches, generator=None):
        import torch

        stream = getattr(self.inner, "stream", None)
        if stream is None or self.z <= 0 or len(self.candidates) < 2:
            self.batches_used = len(batches)
            return self.inner.estimate(model, units=units, unit_modules=unit_modules, task=task, batches=batches,
                                       generator=generator)
        seen = {u: [] for u in units}
        self.batches_used = 0
        for values in stream(model, units=units, unit_modules=unit_modules, task=task, batches=batches,
                             generator=generator):
            for u in seen:
                seen[u].append(values[u].detach().double().cpu())
            self.batches_used += 1
            if self.batches_used >= self.min_batches and self._ranked({u: torch.cat(v) for u, v in seen.items()}):
                break
        return {u: float(torch.cat(v).mean()) if v else 0.0 for u, v in seen.items()}

    def _ranked(self, values) -> bool:
        means = {u: float(values[u].mean()) for u in self.candidates}
        best = max(self.candidates, key=lambda u: (means[u], u))
        n = values[best].numel()
        for other in self.candidates:
            if other == best:
                continue
            diff = values[best] - values[other]
            if n < 2 or float(diff.mean()) <= self.z * float(diff.std()) / n ** 0.5:
                return False
        return True
