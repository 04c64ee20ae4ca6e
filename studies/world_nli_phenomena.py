"""Which kinds of world NLI item does a trained task adapter get right? Accuracy per phenomenon and language.

The world's NLI (v2, docs/world.md) mixes items a word comparison can decide with items that need
composition. This script reloads the task adapters that finished runs saved (``<run>/task_adapter``),
scores every test item of every language, and splits the accuracy by what the item needs, read from the
latent examples the test set was rendered from (same seed, same order):

- ``positive``: positive premise, not an exchange of agent and object (more specific -> neutral);
- ``negated``: negated premise (monotonicity reversed: more specific -> entailment), not an exchange;
- ``exchange``: agent and object exchanged (the same words in another order; neutral).

    python studies/world_nli_phenomena.py runs/findings-v2/nli --out docs/findings/v2/nli_phenomena.json
    python studies/world_nli_phenomena.py --out docs/findings/v2/nli_phenomena.json --figure docs/findings/v2/nli_phenomena.png

Each run folder is found by its results.json; runs are grouped by selector (mean over seeds).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from findings_summary import SELECTORS, mean  # noqa: E402

PHENOMENA = ("positive", "negated", "exchange")


def phenomena(world_seed: int, n: int) -> list[str]:
    """The phenomenon of each world NLI test item, in the test files' order."""
    from unfreeze_core.world.tasks import _latents

    out = []
    for (prem, hyp), _ in _latents("nli", world_seed, "test", n):
        exchanged = (prem.agent.head, prem.obj.head) == (hyp.obj.head, hyp.agent.head) and prem.verb == hyp.verb \
            and prem.agent.head != prem.obj.head
        out.append("exchange" if exchanged else "negated" if prem.neg else "positive")
    return out


def load_trained(run_dir: Path):
    """The run's model (its head and task adapter as saved in ``<run>/task_adapter``, every language adapter
    loaded), its components and the prepared run; and the saved tensors by name."""
    from safetensors.torch import load_file

    from unfreeze_core.components import build
    from unfreeze_core.config import config_from_values, read_yaml
    from unfreeze_core.plugins import get_plugins
    from unfreeze_core.runner import quiet_libraries
    from unfreeze_core.training import prepare_model

    quiet_libraries()
    saved = read_yaml(run_dir / "config.yaml")  # the run's own settings (adapter options included) ...
    saved.get("options", {}).pop("selector", None)  # ... with a selector that needs nothing: only the model matters
    config = config_from_values({**saved, "selector": "standard", "threads": 1, "fisher_every": 0})
    parts = build(config, get_plugins())
    prepared = prepare_model(config, parts)  # the run's model, head and adapters, untrained
    model = prepared.model
    state = {}
    for name in ("adapter.safetensors", "model_head.safetensors"):
        state.update(load_file(str(run_dir / "task_adapter" / name)))
    missing = set(state) - set(model.state_dict())
    if missing:
        raise SystemExit(f"{run_dir}: {len(missing)} saved tensors not in the model, e.g. {sorted(missing)[0]}")
    model.load_state_dict(state, strict=False)
    model.eval()
    return model, parts, prepared, state


def predictions(model, parts, prepared, lang: str):
    """(labels, logits) of every test item of ``lang``, in the test file's order, with the model as it is."""
    import torch

    from unfreeze_core.tasks.base import batched_eval

    task, tokenizer = parts.task, prepared.tokenizer
    features = task.encode(task.load_test(lang), tokenizer)
    pairs = list(batched_eval(model, features, task.collate(tokenizer), 256, "cpu"))
    return torch.cat([labels for labels, _ in pairs]), torch.cat([logits for _, logits in pairs])


def score_run(run_dir: Path, kinds: list[str]) -> dict[str, dict[str, float]]:
    """{lang: {phenomenon: accuracy}} of the task adapter saved in ``run_dir``."""
    model, parts, prepared, _ = load_trained(run_dir)
    out = {}
    for lang in prepared.languages:
        parts.backend.activate_language(model, lang)
        labels, logits = predictions(model, parts, prepared, lang)
        right = [bool(r) for r in (logits.argmax(-1) == labels).tolist()]
        assert len(right) == len(kinds), (len(right), len(kinds))
        out[lang] = {k: mean([r for r, kind in zip(right, kinds) if kind == k]) for k in PHENOMENA}
        out[lang]["all"] = mean(right)
    return out


def summarise(per_run: dict, kinds) -> dict:
    """Per selector, the mean over its runs (seeds) of each kind's score (and "all") in English and in the
    targets (their mean). ``per_run`` values are ``{"selector", "scores": {lang: {kind: score}}}``."""
    by_selector: dict[str, list] = {}
    for entry in per_run.values():
        by_selector.setdefault(entry["selector"], []).append(entry["scores"])
    summary = {}
    for selector, runs in by_selector.items():
        summary[selector] = {"seeds": len(runs)}
        for k in (*kinds, "all"):
            summary[selector][k] = {"en": mean([r["en"][k] for r in runs]),
                                    "avg_no_en": mean([mean([s[k] for lang, s in r.items() if lang != "en"])
                                                       for r in runs])}
    return summary


def figure(data: dict, path: Path, title: str) -> None:
    """Bars per selector: English and the targets' mean, on positive- and negated-premise items."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = data["summary"]
    selectors = [s for s in SELECTORS if s in summary]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
    for ax, kind in zip(axes, ("positive", "negated")):
        for i, (where, color) in enumerate((("en", "C3"), ("avg_no_en", "C0"))):
            ax.bar([x + 0.38 * i for x in range(len(selectors))], [100 * summary[s][kind][where] for s in selectors],
                   width=0.38, color=color, label="en" if where == "en" else "targets (mean)")
        ax.axhline(100 / 3, color="black", lw=0.8, ls=":")
        ax.set_xticks([x + 0.19 for x in range(len(selectors))])
        ax.set_xticklabels(selectors, fontsize=8)
        ax.set_title(f"{kind} premise ({100 * data['share'][kind]:.0f} % of items)", fontsize=9)
    axes[0].set_ylabel("accuracy (%)")
    axes[1].legend(fontsize=7, loc="upper right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", type=Path, nargs="?", help="folder searched for run folders (with results.json)")
    parser.add_argument("--seeds", type=int, nargs="+", help="only these seeds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--figure", type=Path, help="draw an earlier --out file as a PNG and exit")
    parser.add_argument("--title", default="world NLI v2: accuracy by kind of item")
    args = parser.parse_args()
    if args.figure:
        if not args.out or not args.out.is_file():
            parser.error("--figure draws the result file given with --out: give an existing one")
        return figure(json.loads(args.out.read_text()), args.figure, args.title)
    if args.runs is None or not args.runs.is_dir():
        parser.error("give the folder of the runs to score (or --out FILE --figure PNG to draw an earlier result)")
    import torch

    from unfreeze_core import world

    torch.set_num_threads(args.threads)
    manifest = world.manifest()
    kinds = phenomena(manifest["seed"], manifest["data"]["nli"]["en/test"])
    share = {k: kinds.count(k) / len(kinds) for k in PHENOMENA}
    print("share of test items:", json.dumps(share))
    per_run = {}
    for result in sorted(args.runs.rglob("results.json")):
        run = json.loads(result.read_text())
        if args.seeds and run["seed"] not in args.seeds:
            continue
        scores = score_run(result.parent, kinds)
        per_run[str(result.parent)] = {"selector": run["selector"], "seed": run["seed"], "scores": scores}
        xling = {k: mean([s[k] for lang, s in scores.items() if lang != "en"]) for k in (*PHENOMENA, "all")}
        print(f"{run['selector']:>9} seed {run['seed']}: en " +
              " ".join(f"{k} {100 * scores['en'][k]:.1f}" for k in PHENOMENA) + " | avg(no en) " +
              " ".join(f"{k} {100 * xling[k]:.1f}" for k in PHENOMENA), flush=True)
    summary = summarise(per_run, PHENOMENA)
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"share": share, "summary": summary, "per_run": per_run}, indent=1) + "\n")


if __name__ == "__main__":
    main()
