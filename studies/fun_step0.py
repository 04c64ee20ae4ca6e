"""Does FUN's first estimate say anything about the layers? tr(F) per unit on world NLI, per seed (head init
and data order), at step 0 (head untrained, FUN's first decision) and after k steps of training the head
alone (what a top_first or LPFT-like start would let FUN see), with the same estimator and 40 batches:
per seed the ranking, its Kendall tau against top-down, the spread, and the agreement between seeds.

    python studies/fun_step0.py --seeds 1 2 3 4 --k 50 --threads 1 --out docs/findings/v2/fun_step0.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from findings_summary import TOP_DOWN, kendall_tau, mean  # noqa: E402


def estimates(seed: int, k: int, batches: int) -> dict:
    from accelerate import Accelerator
    from rich.console import Console  # noqa: F401  (the runner's imports, for identical library state)

    from unfreeze_core.components import build
    from unfreeze_core.config import RunConfig
    from unfreeze_core.plugins import get_plugins
    from unfreeze_core.runner import quiet_libraries
    from unfreeze_core.training import Trainer

    quiet_libraries()
    config = RunConfig(selector="standard", seeds=[seed], threads=1).validate()
    parts = build(config, get_plugins())
    trainer = Trainer(config, parts, Accelerator(), seed, Path("/tmp/unused-run-dir"), get_plugins().hook)
    trainer.build()  # units frozen, head trainable (as FUN's run starts)
    out = {"step0": trainer.unfreezer.fisher(trainer.inner_model, 0, batches)}
    stream = trainer._endless(trainer.loader)
    for _ in range(k):
        trainer._step(stream)  # only the head requires grad: the units are still frozen
        trainer.scheduler.step()
    out[f"head_trained_{k}"] = trainer.unfreezer.fisher(trainer.inner_model, k, batches)
    return out


def describe(scores: dict[int, float]) -> dict:
    ranked = sorted(scores, key=lambda u: -scores[u])
    values = sorted(scores.values(), reverse=True)
    return {"ranking": ranked, "tau_vs_top_down": kendall_tau(ranked, TOP_DOWN),
            "max_over_min": values[0] / values[-1], "lead_over_second": values[0] / values[1] - 1,
            "scores": {str(u): scores[u] for u in sorted(scores)}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--figure", type=Path, help="draw an earlier --out file as a PNG and exit")
    args = parser.parse_args()
    if args.figure:
        return figure(json.loads(args.out.read_text()), args.figure)
    import torch

    torch.set_num_threads(args.threads)
    per_seed = {s: {when: describe(v) for when, v in estimates(s, args.k, args.batches).items()} for s in args.seeds}
    summary = {}
    for when in next(iter(per_seed.values())):
        rankings = [per_seed[s][when]["ranking"] for s in args.seeds]
        summary[when] = {"mean_tau_vs_top_down": mean([per_seed[s][when]["tau_vs_top_down"] for s in args.seeds]),
                         "mean_pairwise_tau_between_seeds": mean([kendall_tau(a, b) for a, b in
                                                                  itertools.combinations(rankings, 2)]),
                         "leaders": [r[0] for r in rankings]}
        print(when, json.dumps(summary[when]), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"k": args.k, "batches": args.batches, "per_seed": per_seed,
                                        "summary": summary}, indent=1) + "\n")


def figure(data: dict, path: Path) -> None:
    from findings_summary import _plt

    plt = _plt()
    whens = list(next(iter(data["per_seed"].values())))
    fig, axes = plt.subplots(1, len(whens), figsize=(4.2 * len(whens), 3.0), sharey=True)
    for ax, when in zip(axes, whens):
        for seed, entry in data["per_seed"].items():
            scores = {int(u): v for u, v in entry[when]["scores"].items()}
            top = max(scores.values())
            ax.plot(sorted(scores), [scores[u] / top for u in sorted(scores)], "o-", ms=3,
                    label=f"seed {seed} (τ {entry[when]['tau_vs_top_down']:+.2f})")
        ax.set_title("step 0, head untrained" if when == "step0" else f"after {data['k']} head-only steps")
        ax.set_xlabel("unit (layer)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("tr(F) / max over units")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
