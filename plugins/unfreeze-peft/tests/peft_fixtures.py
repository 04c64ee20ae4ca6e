"""A tiny PEFT classifier and the embedded world's English NLI data, for the unfreeze-peft tests."""

from __future__ import annotations

import json


def world_records(n: int, split: str = "train", lang: str = "en") -> list[dict]:
    from unfreeze_core import world

    lines = (world.data_dir("nli") / lang / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:n]]


def tiny_peft_classifier(seed: int = 0, method: str = "lora", **config):
    """A random 4-layer XLM-R classifier wrapped by ``get_peft_model`` (LoRA on query and value, or (IA)³),
    the classifier trained alongside (PEFT's modules_to_save for SEQ_CLS)."""
    import torch
    from peft import IA3Config, LoraConfig, get_peft_model
    from transformers import XLMRobertaForSequenceClassification

    from unfreeze_core.models import byte_tokenizer, tiny_config

    torch.manual_seed(seed)
    tokenizer = byte_tokenizer()
    model_config = tiny_config("tiny", tokenizer)
    model_config.num_labels = 3
    base = XLMRobertaForSequenceClassification(model_config)
    if method == "lora":
        peft_config = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, target_modules=["query", "value"], **config)
    else:
        peft_config = IA3Config(task_type="SEQ_CLS", target_modules=["key", "value", "output.dense"],
                                feedforward_modules=["output.dense"], **config)
    model = get_peft_model(base, peft_config)
    if method == "lora":  # B starts at zero: move it, so that every unit has a gradient through A too
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.05, generator=generator)
    return model, tokenizer


def tiny_dataset(tokenizer, n: int = 64):
    from datasets import Dataset

    data = Dataset.from_list(world_records(n))
    return data.map(lambda b: tokenizer(b["premise"], b["hypothesis"], truncation=True, max_length=32),
                    batched=True, remove_columns=["premise", "hypothesis"])


def training_args(output_dir, **overrides):
    from transformers import TrainingArguments

    settings = dict(output_dir=str(output_dir), per_device_train_batch_size=8, learning_rate=1e-2,
                    lr_scheduler_type="constant", logging_steps=100, save_strategy="no", report_to=[], use_cpu=True,
                    seed=0, disable_tqdm=True, dataloader_num_workers=0, weight_decay=0.1)
    return TrainingArguments(**{**settings, **overrides})


def weights(named) -> dict:
    return {n: p.detach().clone() for n, p in named}


