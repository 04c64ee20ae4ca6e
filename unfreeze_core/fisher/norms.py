"""Per-example squared gradient norms of a weight used as ``out = a Wᵀ (+ b)``, from ``a`` and ∂/∂out.

Example i's gradient is Σ_t g_t a_tᵀ (t over its tokens), so its squared norm needs no per-example
gradient: the Gram route computes it from token-by-token dot products; the outer route materialises
the [out, in] gradient per example when that is cheaper.
"""

from __future__ import annotations


def by_example(tensors, n):
    """[n·m, ..., d] tensors (one per call of a layer) -> [n, tokens, d], example-major (multiple choice:
    m choices per example), promoted to float32 at least."""
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
    """Per-example ||Σ_t g_t a_tᵀ||² (+ ||Σ_t g_t||² for the bias) from inputs a and output grads g
    (lists of per-call tensors); a [n] tensor.

    Uses Gram matrices (``gram_sq_norms``) when ``uses_gram``, else materialises the per-example
    gradients (``outer_sq_norms``)."""
    a, g = by_example(inputs, n), by_example(grads, n)
    norms = gram_sq_norms(a, g) if uses_gram(a.shape[1], a.shape[2], g.shape[2]) else outer_sq_norms(a, g)
    if bias:
        norms = norms + bias_sq_norms(grads, n, summed=g)
    return norms


def bias_sq_norms(grads, n, summed=None):
    """Per-example ||Σ_t g_t||²: a vector used like a bias (added to, or repeated into, every row)."""
    g = by_example(grads, n) if summed is None else summed
    return g.sum(dim=1).pow(2).sum(dim=-1)


__all__ = ["by_example", "uses_gram", "gram_sq_norms", "outer_sq_norms", "linear_sq_norms", "bias_sq_norms"]
