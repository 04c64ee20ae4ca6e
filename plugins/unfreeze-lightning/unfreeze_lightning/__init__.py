"""Scheduled unfreezing in PyTorch Lightning: ``UnfreezeFinetuning``, a ``lightning.pytorch.Callback`` driving
unfreeze's controller (any registered selector, FUN with any registered estimator). docs/integrations.md."""

from .callback import UnfreezeFinetuning

__all__ = ["UnfreezeFinetuning"]
