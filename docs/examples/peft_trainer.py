"""FUN (Fisher unfreezing) of PEFT LoRA layers in a plain transformers.Trainer script, offline (about 4 CPU-minutes;
60 steps show the mechanics, near chance accuracy: raise max_steps for real scores).

    python docs/examples/peft_trainer.py [OUTPUT_DIR]

Needs `pip install -e ".[peft]" -e plugins/unfreeze-peft` (setup.sh installs both). The model is the
embedded world's 8-layer encoder and the data its English NLI training set; put your own in their place.
"""

import sys

from datasets import load_dataset
from peft import LoraConfig, get_peft_model
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                          TrainingArguments)

from unfreeze_core import world
from unfreeze_core.integrations.evaluate import zero_shot
from unfreeze_core.integrations.transformers import UnfreezeCallback

output_dir = sys.argv[1] if len(sys.argv) > 1 else "peft-trainer-run"

# 1. An ordinary PEFT setup: LoRA on query and value in every layer, the classifier trained alongside.
tokenizer = AutoTokenizer.from_pretrained(world.model_path())
base = AutoModelForSequenceClassification.from_pretrained(world.model_path(), num_labels=3)
model = get_peft_model(base, LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=8, target_modules=["query", "value"]))

train = load_dataset("json", data_files=str(world.data_dir("nli") / "en" / "train.jsonl"), split="train")
train = train.select(range(2000)).map(
    lambda batch: tokenizer(batch["premise"], batch["hypothesis"], truncation=True, max_length=64),
    batched=True, remove_columns=["premise", "hypothesis"])

# 2. The callback, created BEFORE the Trainer (so the optimizer holds every unit). Units: each layer's
#    lora_A/lora_B of query and value (backend "peft-lora"), 0 = bottom; never the frozen base weights.
#    FUN unfreezes one every k = 5 steps, the frozen unit with the largest tr(F) on 4 training batches.
callback = UnfreezeCallback(model, backend="peft-lora", selector="fisher", k=5, fisher_batches=4)

args = TrainingArguments(output_dir=output_dir, max_steps=60, per_device_train_batch_size=32, learning_rate=1e-3,
                         lr_scheduler_type="linear", logging_steps=10, save_strategy="no", report_to=[],
                         use_cpu=True, seed=1)
trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=DataCollatorWithPadding(tokenizer))
callback.add_to(trainer)
trainer.train()

# 3. The adapter in PEFT's format, the schedule, and the zero-shot table of `unfreeze run`.
model.save_pretrained(f"{output_dir}/adapter")
for event in callback.schedule.events:
    print(f"step {event['step']:3d}: unfroze unit {event['units']}")
zero_shot(model, tokenizer, "nli", task_options={"eval_limit": 300}, output_dir=output_dir,
          name={"adapter": "peft-lora", "selector": "fisher", "seed": 1})
