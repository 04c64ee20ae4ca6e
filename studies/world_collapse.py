"""Why does a whole target language collapse in some seeds? Where its representation parts from English.

For each finished NLI run (a run folder with ``task_adapter``), on every language's test set (the same latent
items in every language, in the same order):

- ``scores``: accuracy, the share of each predicted label, recall per gold label, accuracy per kind of
  item (studies/world_nli_phenomena.py), and the mean logits minus English's mean logits;
- ``layers``: per layer (0 = embeddings), the first-token state (what the head reads) of each item against
  the same item's English state: mean raw cosine, mean cosine after centring each language, and the length
  of the difference of the languages' mean states relative to the mean state length ("offset"), and the
  target's spread around its mean relative to English's ("spread"); with the
  run's stack (language adapter + task adapter) and with the language adapter alone (the frozen encoder);
- ``conditions``: accuracy with the target's own language adapter (as evaluated), with English's adapter
  instead, with no language adapter, and with the target's final first-token states moved by English's
  mean minus the target's mean before the head ("recentred": is the collapse an offset?).

With ``--ref GOOD_RUN``, the first run's head and task adapter are crossed with the reference run's: which
part carries the collapse (head, task adapter, its lower layers 0-3 or upper layers 4-7).

    python studies/world_collapse.py runs/nli-madx-standard/seed42 --ref runs/nli-madx-standard/seed43 \\
        --out docs/findings/v2/collapse.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from world_nli_phenomena import PHENOMENA, load_trained, phenomena  # noqa: E402

LOWER = range(0, 4)


def forward(model, parts, prepared, lang: str, batch_size: int = 250):
    """(labels, logits, first-token states [layers + 1, n, d]) of ``lang``'s test set, adapters as they are."""
    import torch

    task, tokenizer = parts.task, prepared.tokenizer
    features = task.encode(task.load_test(lang), tokenizer)
    collate = task.collate(tokenizer)
    labels, logits, states = [], [], []
    with torch.no_grad():
        for start in range(0, len(features), batch_size):
            batch = collate(features[start:start + batch_size])
            labels.append(batch.pop("labels"))
            out = model(**batch, output_hidden_states=True)
            logits.append(out.logits)
            states.append(torch.stack([h[:, 0] for h in out.hidden_states]))
    return torch.cat(labels), torch.cat(logits), torch.cat(states, 1)


def head_logits(model, cls):
    """The classification head applied to first-token states."""
    import torch

    head = model.heads[model.active_head]
    with torch.no_grad():
        return torch.nn.Sequential.forward(head, cls)


def stack(model, parts, lang: str | None, task: bool = True):
    from adapters.composition import Stack

    name = parts.backend.adapter_name
    if lang and task:
        model.active_adapters = Stack(lang, name)
    elif lang:
        model.active_adapters = Stack(lang)
    else:
        model.active_adapters = Stack(name)


def layer_alignment(en, tgt) -> list[dict]:
    import torch

    out = []
    for layer in range(en.shape[0]):
        e, t = en[layer], tgt[layer]
        raw = torch.nn.functional.cosine_similarity(e, t, dim=-1).mean().item()
        centred = torch.nn.functional.cosine_similarity(e - e.mean(0), t - t.mean(0), dim=-1).mean().item()
        offset = ((e.mean(0) - t.mean(0)).norm() / e.norm(dim=-1).mean()).item()
        spread = ((t - t.mean(0)).norm(dim=-1).mean() / (e - e.mean(0)).norm(dim=-1).mean()).item()
        out.append({"layer": layer, "cos_raw": round(raw, 4), "cos_centred": round(centred, 4),
                    "offset": round(offset, 4), "spread": round(spread, 4)})
    return out


def scores(labels, logits, kinds, en_mean_logits) -> dict:
    pred = logits.argmax(-1)
    right = (pred == labels).float()
    return {"accuracy": round(right.mean().item(), 4),
            "predicted_share": [round((pred == c).float().mean().item(), 3) for c in range(3)],
            "recall": [round(right[labels == c].mean().item(), 3) for c in range(3)],
            "phenomena": {k: round(right[[i for i, x in enumerate(kinds) if x == k]].mean().item(), 4)
                          for k in PHENOMENA},
            "logit_shift": [round(v, 3) for v in (logits.mean(0) - en_mean_logits).tolist()]}


def diagnose(run_dir: Path, kinds: list[str], frozen: dict | None) -> tuple[dict, dict]:
    model, parts, prepared, _ = load_trained(run_dir)
    langs = prepared.languages
    out = {"run": str(run_dir), "scores": {}, "layers": {}, "conditions": {}}
    stack(model, parts, "en")
    en_labels, en_logits, en_states = forward(model, parts, prepared, "en")
    en_mean = en_logits.mean(0)
    if frozen is None:  # the language adapters alone: the same for every run
        frozen = {}
        stack(model, parts, "en", task=False)
        frozen["en"] = forward(model, parts, prepared, "en")[2]
        for lang in langs:
            if lang != "en":
                stack(model, parts, lang, task=False)
                frozen[lang] = forward(model, parts, prepared, lang)[2]
    for lang in langs:
        stack(model, parts, lang)
        labels, logits, states = forward(model, parts, prepared, lang)
        out["scores"][lang] = scores(labels, logits, kinds, en_mean)
        if lang == "en":
            continue
        out["layers"][lang] = {"stack": layer_alignment(en_states, states),
                               "lang_adapter_only": layer_alignment(frozen["en"], frozen[lang])}
        top = states[-1]
        moved = top - top.mean(0) + en_states[-1].mean(0)
        conditions = {"own_adapter": out["scores"][lang]["accuracy"],
                      "recentred": round((head_logits(model, moved).argmax(-1) == labels).float().mean().item(), 4)}
        for name, active in (("en_adapter", "en"), ("no_lang_adapter", None)):
            stack(model, parts, active)
            conditions[name] = round((forward(model, parts, prepared, lang)[1].argmax(-1) == labels)
                                     .float().mean().item(), 4)
        out["conditions"][lang] = conditions
    return out, frozen


def crossed(run_dir: Path, ref_dir: Path) -> dict:
    """Accuracy per language of the run with parts of the reference run's head and task adapter."""
    model, parts, prepared, mine = load_trained(run_dir)
    theirs = load_trained(ref_dir)[3]

    def layer(key: str) -> int | None:
        return int(key.split("layer.")[1].split(".")[0]) if "layer." in key else None

    mixes = {"as_trained": lambda k: False,
             "ref_head": lambda k: k.startswith("heads."),
             "ref_task_adapter": lambda k: not k.startswith("heads."),
             "ref_lower_task_adapter_0_3": lambda k: layer(k) in LOWER,
             "ref_upper_task_adapter_4_7": lambda k: layer(k) is not None and layer(k) not in LOWER}
    out = {}
    for name, take in mixes.items():
        model.load_state_dict({k: (theirs[k] if take(k) else v) for k, v in mine.items()}, strict=False)
        row = {}
        for lang in prepared.languages:
            stack(model, parts, lang)
            labels, logits, _ = forward(model, parts, prepared, lang)
            row[lang] = round((logits.argmax(-1) == labels).float().mean().item(), 4)
        row["avg_no_en"] = round(sum(v for k, v in row.items() if k != "en") / (len(row) - 1), 4)
        out[name] = row
        print(f"{name:>28}: " + " ".join(f"{k} {100 * v:.1f}" for k, v in row.items()), flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="finished NLI run folders (seed folders)")
    parser.add_argument("--ref", type=Path, help="a run without collapse, crossed with the first run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    for run in [*args.runs, *([args.ref] if args.ref else [])]:
        if not (run / "task_adapter").is_dir():
            print(f"error: {run} is not a finished run folder (no task_adapter)", file=sys.stderr)
            return 2
    import torch

    from unfreeze_core import world

    torch.set_num_threads(args.threads)
    manifest = world.manifest()
    kinds = phenomena(manifest["seed"], manifest["data"]["nli"]["en/test"])
    report, frozen = {"runs": []}, None
    for run in args.runs:
        entry, frozen = diagnose(run, kinds, frozen)
        report["runs"].append(entry)
        print(run)
        for lang, s in entry["scores"].items():
            c = entry["conditions"].get(lang, {})
            print(f"  {lang}: acc {100 * s['accuracy']:.1f} pred {s['predicted_share']} recall {s['recall']} "
                  f"phen {s['phenomena']} shift {s['logit_shift']} | " +
                  " ".join(f"{k} {100 * v:.1f}" for k, v in c.items()), flush=True)
    if args.ref:
        report["crossed"] = {"run": str(args.runs[0]), "ref": str(args.ref), "accuracy": crossed(args.runs[0],
                                                                                               args.ref)}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
