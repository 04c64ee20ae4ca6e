"""ŷ and log p(ŷ|x): labels drawn from the model's own predictive distribution (Eq. 1), never gold labels.

A task's ``output_distributions`` gives one logits tensor per categorical head (classification [B, C],
multiple choice [B, choices], QA start and end [B, T]); ŷ is one label per head and example.
"""

from __future__ import annotations

LABEL_KEYS = ("labels", "label", "start_positions", "end_positions")


def model_inputs(batch: dict) -> dict:
    """The batch without its gold labels: the estimators never look at them (and the model skips its loss)."""
    return {k: v for k, v in batch.items() if k not in LABEL_KEYS}


def sample_labels(distributions, generator=None) -> list:
    """ŷ per head (each a [B] tensor), drawn from softmax(logits) with ``generator`` (never the global RNG).

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
    """ŷ per head (each a [B] tensor): the most likely label, deterministic."""
    return [logits.detach().argmax(dim=-1) for logits in distributions]


def log_probs(distributions, labels):
    """Σ_heads log softmax(logits)[ŷ] per example: a [B] tensor (float32 at least)."""
    import torch

    total = 0
    for logits, y in zip(distributions, labels):
        logp = torch.log_softmax(logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits, -1)
        total = total + logp.gather(-1, y.unsqueeze(-1)).squeeze(-1)
    return total


__all__ = ["LABEL_KEYS", "model_inputs", "sample_labels", "argmax_labels", "log_probs"]
