"""A tiny adapters classifier and NLI-like data for the Hugging Face Trainer callback's tests."""

from __future__ import annotations


from task_fixtures import xnli_records


def tiny_classifier(seed: int = 0):
    """A random 4-layer XLM-R with a bottleneck adapter "task" in every layer, trained by train_adapter."""
    import adapters
    import torch
    from transformers import XLMRobertaForSequenceClassification

    from unfreeze_core.models import byte_tokenizer, tiny_config

    torch.manual_seed(seed)
    tokenizer = byte_tokenizer()
    config = tiny_config("tiny", tokenizer)
    config.num_labels = 3
    model = XLMRobertaForSequenceClassification(config)
    adapters.init(model)
    model.add_adapter("task", config="seq_bn")
    model.train_adapter("task")
    return model, tokenizer


def tiny_dataset(tokenizer, n: int = 64, seed: int = 0):
    from datasets import Dataset

    records = xnli_records("en", n, seed)
    data = Dataset.from_list(records)
    return data.map(lambda b: tokenizer(b["premise"], b["hypothesis"], truncation=True, max_length=32),
                    batched=True, remove_columns=["premise", "hypothesis"])


def training_args(output_dir, **overrides):
    from transformers import TrainingArguments

    settings = dict(output_dir=str(output_dir), per_device_train_batch_size=8, learning_rate=1e-2,
                    lr_scheduler_type="constant", logging_steps=100, save_strategy="no", report_to=[], use_cpu=True,
                    seed=0, disable_tqdm=True, dataloader_num_workers=0)
    return TrainingArguments(**{**settings, **overrides})


def unit_weights(units) -> dict:
    import torch

    return {u: torch.cat([p.detach().flatten().clone() for _, p in params]) for u, params in units.items()}

