"""FUN (Fisher unfreezing) in an ordinary adapters.AdapterTrainer script, offline, in about a minute.

    python docs/examples/trainer_callback.py [OUTPUT_DIR]

The model is the embedded world's 8-layer encoder and the data its English NLI training set; put your
own checkpoint and data in their place. Needs `pip install tensorboard` for the TensorBoard logs.
"""

import sys

import adapters
from adapters import AdapterTrainer
from datasets import load_dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, TrainingArguments

from unfreeze_core import world
from unfreeze_core.integrations.transformers import UnfreezeCallback

output_dir = sys.argv[1] if len(sys.argv) > 1 else "trainer-callback-run"

# 1. An ordinary adapters setup: a bottleneck adapter in every layer, the rest of the model frozen.
tokenizer = AutoTokenizer.from_pretrained(world.model_path())
model = AutoModelForSequenceClassification.from_pretrained(world.model_path(), num_labels=3)
adapters.init(model)
model.add_adapter("nli", config="seq_bn")
model.train_adapter("nli")

train = load_dataset("json", data_files=str(world.data_dir("nli") / "en" / "train.jsonl"), split="train")
train = train.select(range(2000)).map(
    lambda batch: tokenizer(batch["premise"], batch["hypothesis"], truncation=True, max_length=64),
    batched=True, remove_columns=["premise", "hypothesis"])

# 2. The callback, created BEFORE the Trainer: it makes every adapter layer (unit) require grad, so the
#    Trainer's optimizer holds them all; it freezes them again when training starts.
#    Units: the layers of the active adapter ("nli"), 0 = bottom. FUN unfreezes one every k = 10 steps,
#    the frozen unit with the largest tr(F) on 8 training batches; tr(F) of every unit is logged every 20 steps.
callback = UnfreezeCallback(model, selector="fisher", k=10, fisher_every=20, fisher_batches=8)

args = TrainingArguments(output_dir=output_dir, max_steps=100, per_device_train_batch_size=32, learning_rate=1e-3,
                         lr_scheduler_type="linear", logging_steps=10, save_strategy="no", report_to=["tensorboard"],
                         logging_dir=f"{output_dir}/tensorboard", use_cpu=True, seed=1)
trainer = AdapterTrainer(model=model, args=args, train_dataset=train,
                         data_collator=DataCollatorWithPadding(tokenizer))
callback.add_to(trainer)  # unfreeze events and tr(F) go through trainer.log, so every report_to receives them
trainer.train()

# 3. What happened: schedule.json in output_dir holds the events with FUN's scores.
for event in callback.schedule.events:
    print(f"step {event['step']:3d}: unfroze unit {event['units']}")
print(f"schedule: {output_dir}/schedule.json, TensorBoard: {output_dir}/tensorboard")
