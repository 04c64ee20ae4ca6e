"""tr(F) estimation: the shared machinery every estimator plugin may reuse. One module per job:

- ``labels``   ŷ drawn from the model (``sample_labels``, ``argmax_labels``) and Σ_heads log p(ŷ|x)
  (``log_probs``); ``model_inputs`` drops gold labels from a batch.
- ``modes``    running an estimator without disturbing training (``fisher_scores``: on a deep copy,
  or in place with ``estimation_mode`` saving and restoring the model).
- ``capture``  the per-example norm engine: ``PerExampleSquaredNorms`` (forward hooks) and
  ``per_example_sq_norms``, with ``layers`` (one rewriting per layer kind: nn.Linear, and ``adapters``'
  LoRA and (IA)³ as Linear-like uses), ``norms`` (the Gram and outer routes) and ``loop`` (the exact
  one-example-at-a-time fallback).
- ``stopping`` sequential stopping for FUN's decision (``StopWhenRanked``).
- ``steps``    the optimizer-step batches an estimate's micro-batches make up (``StepBatches``,
  ``step_groups``, ``accumulate_squared_grads``): per-batch quantities over the step batch, whatever the split.

What an estimator is (``estimate``, ``stream``, ``batches_used``) is declared by
``unfreeze_core.api.FisherEstimator``. See docs/fisher.md.
"""

from __future__ import annotations

from .capture import PerExampleSquaredNorms, per_example_sq_norms
from .labels import LABEL_KEYS, argmax_labels, log_probs, model_inputs, sample_labels
from .loop import loop_sq_norms
from .modes import estimation_mode, fisher_scores
from .norms import bias_sq_norms, by_example, gram_sq_norms, linear_sq_norms, outer_sq_norms, uses_gram
from .steps import StepBatches, accumulate_squared_grads, groups_of, step_groups
from .stopping import StopWhenRanked

__all__ = [
    "LABEL_KEYS", "model_inputs", "sample_labels", "argmax_labels", "log_probs",
    "estimation_mode", "fisher_scores",
    "PerExampleSquaredNorms", "per_example_sq_norms", "loop_sq_norms",
    "by_example", "uses_gram", "gram_sq_norms", "outer_sq_norms", "linear_sq_norms", "bias_sq_norms",
    "StopWhenRanked", "StepBatches", "step_groups", "groups_of", "accumulate_squared_grads",
]
