"""Zero-shot transfer on the embedded world with plain `adapters` + torch (no unfreeze pipeline).

MAD-X: Stack(lang, "task"); a bottleneck task adapter (reduction factor 16) and a 3-way
classification head are trained on the world's English NLI with the English language adapter;
each test language is evaluated with its own language adapter swapped in.

Selectors: standard (all task adapters trainable from step 0), topdown (GU: the top layer's
adapter first, one more every k steps), bottomup (the reverse). The head is always trainable.

    python bench/world_transfer.py --seeds 1 2 3 --selectors standard topdown bottomup
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def encode(tok, recs, max_length=128):
    enc = tok([r["premise"] for r in recs], [r["hypothesis"] for r in recs], truncation=True,
              max_length=max_length)
    return enc["input_ids"], [r["label"] for r in recs]


def pad(tok, seqs):
    import torch

    n = max(map(len, seqs))
    ids = torch.full((len(seqs), n), tok.pad_token_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
    return ids, (ids != tok.pad_token_id).long()


def unfreeze_order(selector: str, n_layers: int) -> list[int]:
    if selector == "topdown":
        return list(range(n_layers - 1, -1, -1))
    if selector == "bottomup":
        return list(range(n_layers))
    raise ValueError(selector)


def run(world: Path, selector: str, seed: int, steps: int, k: int, lr: float, batch_size: int,
        threads: int, task: str = "nli") -> dict:
    import torch
    from adapters import AutoAdapterModel, SeqBnConfig
    from adapters.composition import Stack
    from transformers import AutoTokenizer

    from unfreeze_core.world.generator import LANGUAGES

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    t0 = time.time()
    tok = AutoTokenizer.from_pretrained(str(world / "model"))
    model = AutoAdapterModel.from_pretrained(str(world / "model"))
    for lang in LANGUAGES:
        model.load_adapter(str(world / "adapters" / lang), load_as=lang)
    model.add_adapter("task", config=SeqBnConfig(reduction_factor=16))
    model.add_classification_head("task", num_labels=3)
    model.train_adapter("task")
    model.active_adapters = Stack("en", "task")
    n_layers = model.config.num_hidden_layers
    units = {}
    for layer, mods in model.get_adapter("task").items():
        units[layer] = [p for m in mods.values() for p in m.parameters()]
    head = list(model.heads["task"].parameters())
    all_params = [p for ps in units.values() for p in ps] + head
    opt = torch.optim.AdamW(all_params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / steps)
    order = [] if selector == "standard" else unfreeze_order(selector, n_layers)
    if order:
        for ps in units.values():
            for p in ps:
                p.requires_grad = False

    data = world / "data" / task
    ids, labels = encode(tok, read_jsonl(data / "en" / "train.jsonl"))
    rng = random.Random(seed)
    idx = list(range(len(ids)))
    rng.shuffle(idx)
    pos = 0
    model.train()
    loss_ema = None
    for step in range(steps):
        if order and step % k == 0 and step // k < len(order):
            for p in units[order[step // k]]:
                p.requires_grad = True
        if pos + batch_size > len(idx):
            rng.shuffle(idx)
            pos = 0
        b = idx[pos:pos + batch_size]
        pos += batch_size
        x, attn = pad(tok, [ids[i] for i in b])
        y = torch.tensor([labels[i] for i in b])
        loss = torch.nn.functional.cross_entropy(model(input_ids=x, attention_mask=attn).logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(all_params, 1.0)
        opt.step()
        sched.step()
        loss_ema = loss.item() if loss_ema is None else 0.95 * loss_ema + 0.05 * loss.item()
    train_s = time.time() - t0

    model.eval()
    acc = {}
    with torch.no_grad():
        for lang in LANGUAGES:
            model.active_adapters = Stack(lang, "task")
            tids, tl = encode(tok, read_jsonl(data / lang / "test.jsonl"))
            correct = 0
            for i in range(0, len(tids), 256):
                x, attn = pad(tok, tids[i:i + 256])
                pred = model(input_ids=x, attention_mask=attn).logits.argmax(-1)
                correct += int((pred == torch.tensor(tl[i:i + 256])).sum())
            acc[lang] = correct / len(tids)
    others = [v for k_, v in acc.items() if k_ != "en"]
    return {"selector": selector, "seed": seed, "acc": acc, "en": acc["en"], "avg": statistics.mean(others),
            "min": min(others), "loss": loss_ema, "train_s": round(train_s, 1), "total_s": round(time.time() - t0, 1)}


def main(argv=None):
    from unfreeze_core.world import artifacts_dir

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", type=Path, default=None, help="world folder (default: the shipped one)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--selectors", nargs="+", default=["standard", "topdown", "bottomup"])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="append results as JSON lines here")
    a = ap.parse_args(argv)
    world = a.world or artifacts_dir()
    results = []
    for sel in a.selectors:
        for seed in a.seeds:
            r = run(world, sel, seed, a.steps, a.k, a.lr, a.batch_size, a.threads)
            results.append(r)
            print(json.dumps(r), flush=True)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(json.dumps(r) + "\n")
    print(f"\n{'selector':10} {'En':>6} {'avg':>6} {'min':>6}   (mean over seeds {a.seeds})")
    for sel in a.selectors:
        rs = [r for r in results if r["selector"] == sel]
        m = {key: statistics.mean(r[key] for r in rs) for key in ("en", "avg", "min")}
        sd = statistics.pstdev(r["avg"] for r in rs)
        print(f"{sel:10} {m['en']:6.3f} {m['avg']:6.3f} {m['min']:6.3f}   avg sd {sd:.3f}")


if __name__ == "__main__":
    main()
