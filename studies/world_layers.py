"""Is there a layer hierarchy in the world encoder? Per layer of the frozen world model (with each language's
MAD-X language adapter active, no task adapter), on the world NLI pairs:

- alignment: en -> target retrieval accuracy of the same latent item among the test set (mean-pooled,
  centred, cosine), per layer — where the languages meet;
- task: a linear probe (logistic regression on mean-pooled features of the premise/hypothesis pair) trained
  on English and tested on English and zero-shot on the targets, per layer — where the task is readable.

    python studies/world_layers.py --train 3000 --threads 1 --out docs/findings/v2/world_layers.json
    python studies/world_layers.py --train 3000 --threads 1 --pool cls --out docs/findings/v2/world_layers_cls.json
    python studies/world_layers.py --world /tmp/w3 --out w3_layers.json     # a variant world
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def features(model, tokenizer, rows, lang, pool="mean", batch_size=128):
    """[layers + 1, n, hidden] hidden states of the (premise, hypothesis) pairs: mean-pooled, or the first
    token's (``cls``: what the classification head reads)."""
    import torch

    model.active_adapters = lang
    out = []
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            chunk = rows[i:i + batch_size]
            enc = tokenizer([r["premise"] for r in chunk], [r["hypothesis"] for r in chunk], padding=True,
                            truncation=True, return_tensors="pt")
            hidden = model.base_model(**enc, output_hidden_states=True).hidden_states
            mask = enc["attention_mask"].unsqueeze(-1).float()
            out.append(torch.stack([h[:, 0] if pool == "cls" else (h * mask).sum(1) / mask.sum(1) for h in hidden]))
    return torch.cat(out, 1)


def retrieval(a, b):
    """Share of rows of a whose nearest row of b (cosine, after centring each side) is the same item."""
    import torch

    a = torch.nn.functional.normalize(a - a.mean(0), dim=-1)
    b = torch.nn.functional.normalize(b - b.mean(0), dim=-1)
    return ((a @ b.T).argmax(1) == torch.arange(len(a))).float().mean().item()


def probe(train_x, train_y, tests, steps=300):
    import torch

    mu, sigma = train_x.mean(0), train_x.std(0) + 1e-6
    torch.manual_seed(0)
    linear = torch.nn.Linear(train_x.shape[1], 3)
    opt = torch.optim.Adam(linear.parameters(), lr=0.05)
    x = (train_x - mu) / sigma
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(linear(x), train_y).backward()
        opt.step()
    with torch.no_grad():
        return {k: (linear((tx - mu) / sigma).argmax(1) == ty).float().mean().item() for k, (tx, ty) in tests.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pool", choices=["mean", "cls"], default="mean")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--world", type=Path, help="a world built with `unfreeze world build --out DIR` "
                        "(default: the shipped one)")
    args = parser.parse_args()
    import torch

    from unfreeze_core import world
    from unfreeze_core.models import load_model

    torch.set_num_threads(args.threads)
    model, tokenizer = load_model(str(world.model_path(args.world)) if args.world else "world")
    model.eval()
    langs = ["en", "qa", "qc", "qd", "qg", "qk"]
    for lang in langs:
        model.load_adapter(str(world.lang_adapter_path(lang, args.world)), load_as=lang, with_head=False)

    def rows(lang, split, n=None):
        lines = (world.data_dir("nli", args.world) / lang / f"{split}.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines[:n]]

    train = rows("en", "train", args.train)
    train_x = features(model, tokenizer, train, "en", args.pool)
    train_y = torch.tensor([r["label"] for r in train])
    test = {lang: rows(lang, "test") for lang in langs}
    test_x = {lang: features(model, tokenizer, test[lang], lang, args.pool) for lang in langs}
    test_y = {lang: torch.tensor([r["label"] for r in test[lang]]) for lang in langs}
    layers = []
    for layer in range(train_x.shape[0]):
        align = {lang: retrieval(test_x["en"][layer], test_x[lang][layer]) for lang in langs[1:]}
        acc = probe(train_x[layer], train_y, {lang: (test_x[lang][layer], test_y[lang]) for lang in langs})
        layers.append({"layer": layer, "retrieval_en_to": align,
                       "retrieval_avg": sum(align.values()) / len(align),
                       "probe": acc, "probe_en": acc["en"],
                       "probe_avg_no_en": sum(acc[lang] for lang in langs[1:]) / (len(langs) - 1)})
        print(f"layer {layer}: retrieval avg {layers[-1]['retrieval_avg']:.3f}  probe en {acc['en']:.3f} "
              f"avg(no en) {layers[-1]['probe_avg_no_en']:.3f}", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"train": args.train, "pool": args.pool, "layers": layers}, indent=1) + "\n")


if __name__ == "__main__":
    main()
