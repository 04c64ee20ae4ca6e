"""FUN (Fisher unfreezing) in a plain PyTorch training loop, with a checkpoint of your own to resume from.

    python docs/examples/own_loop.py OUTPUT_DIR [--steps 60] [--until N]

Trains a bottleneck adapter in every layer of the embedded world's 8-layer encoder on its English NLI data,
unfreezing one adapter layer (unit) every k = 5 steps, the frozen one with the largest tr(F) first. It saves
OUTPUT_DIR/checkpoint.pt every 10 steps; with --until N it stops after step N, as if killed. Run it again
and it resumes from that checkpoint, ending exactly where an unbroken run ends. Offline, seconds on a CPU.
"""

import argparse
import json
from pathlib import Path

import adapters
import torch
from datasets import load_dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

from unfreeze_core import world
from unfreeze_core.integrations.loop import Unfreezing

parser = argparse.ArgumentParser()
parser.add_argument("output_dir")
parser.add_argument("--steps", type=int, default=60)
parser.add_argument("--until", type=int, default=None, help="stop after this many steps (resume later)")
args = parser.parse_args()
out = Path(args.output_dir)
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(1)

# 1. An ordinary adapters model: a bottleneck adapter in every layer, the rest frozen, the head trainable.
tokenizer = AutoTokenizer.from_pretrained(world.model_path())
model = AutoModelForSequenceClassification.from_pretrained(world.model_path(), num_labels=3)
adapters.init(model)
model.add_adapter("nli", config="seq_bn")
model.train_adapter("nli")
train = load_dataset("json", data_files=str(world.data_dir("nli") / "en" / "train.jsonl"), split="train")
train = train.select(range(1000)).map(
    lambda batch: tokenizer(batch["premise"], batch["hypothesis"], truncation=True, max_length=64),
    batched=True, remove_columns=["premise", "hypothesis"])
collate = DataCollatorWithPadding(tokenizer)
batch_size = 32

# 2. Unfreezing BEFORE the optimizer: it makes every unit (here: the adapter's layers) require grad, so the
#    optimizer holds them all; FUN reads 4 batches of the training set, drawn by a loader of its own.
unfreezing = Unfreezing(model, selector="fisher", k=5, fisher_batches=4, seed=1,
                        train_dataset=train, collate_fn=collate, batch_size=batch_size)
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3, weight_decay=0.01)

# 3. Resume from your own checkpoint: the weights, the optimizer, the RNG and the unfreezing schedule.
checkpoint_path, start = out / "checkpoint.pt", 0
if checkpoint_path.exists():
    checkpoint = torch.load(checkpoint_path)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    torch.set_rng_state(checkpoint["rng"])
    unfreezing.load_state_dict(checkpoint["unfreeze"])
    start = checkpoint["step"]
    print(f"resumed at step {start}")
unfreezing.freeze(steps=args.steps)  # the units not unfrozen yet stop requiring grad (budget checked)


def batches_from(step):
    """The batches of updates step+1, step+2, ...: one seeded permutation per epoch, so a resume sees the same."""
    per_epoch = len(train) // batch_size
    while True:
        epoch, index = divmod(step, per_epoch)
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(epoch)).tolist()
        yield collate([train[i] for i in order[index * batch_size:(index + 1) * batch_size]])
        step += 1


# 4. The loop: advance(step) before each update; nothing else about unfreezing.
model.train()
stop = min(args.until or args.steps, args.steps)
for step, batch in zip(range(start, stop), batches_from(start)):
    new = unfreezing.advance(step)  # step = updates done; SELECT when step is a multiple of k
    if new:
        print(f"step {step:3d}: unfroze unit {new}")
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)  # frozen units keep grad None: AdamW leaves them untouched
    if (step + 1) % 10 == 0 or step + 1 == stop:
        torch.save({"step": step + 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "rng": torch.get_rng_state(), "unfreeze": unfreezing.state_dict()}, checkpoint_path)

(out / "schedule.json").write_text(json.dumps(unfreezing.events, indent=1) + "\n")
print(f"{stop} of {args.steps} steps; schedule: {out}/schedule.json, checkpoint: {checkpoint_path}")
