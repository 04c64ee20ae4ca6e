"""Test the hypothesis of docs/findings.md ("what the world still lacks"): does pretraining text in which a
sentence's polarity decides what follows make the world's negated NLI items transfer?

Builds a variant of the world into OUT with the shipped settings and seed, except that each pretraining
document gets, with probability ``--p``, a *consequence pair*: an event, negated half the time, followed by
the state that its polarity implies ("Anna eats the bread . Anna is full ." / "Anna never eats the bread .
Anna is hungry ."). MLM can only predict the state word from the earlier sentence's negation, in every
language. The NLI data is the shipped world's (version 2). Nothing in the shipped world changes.

    python studies/world_corpus_variant.py --out /tmp/world-consequences --threads 2
    unfreeze run --model /tmp/world-consequences/model -o lang_adapters=/tmp/world-consequences/adapters \\
        --data-dir /tmp/world-consequences/data/nli --steps 1800 --k 150 --seed 100 --threads 1
    python studies/world_nli_phenomena.py runs/nli-madx-standard --out consequences_phenomena.json

The check, fixed before the variant was built: `standard`, 1,800 steps, k 150, seeds 100, 1 and 2. The
hypothesis is supported if the negated-premise items' mean accuracy over the targets beats the shipped
world's on the same seeds (39.8, 33.2 and 31.3 %) by at least 10 points on average, with English on those
items at least 70 %; it is not if the gain is under 5 points.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--p", type=float, default=0.5, help="share of documents that get a consequence pair")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from unfreeze_core.world.build import BuildConfig, build

    # the only change: the pretraining (and language-adapter) text; the same as
    # `unfreeze world build --seed 0 --consequences P --out OUT`
    manifest = build(args.out, BuildConfig(seed=0, threads=args.threads, consequences=args.p))
    print(f"built {args.out}: mlm loss {manifest['encoder']['mlm_loss']}, {manifest['timings']}")


if __name__ == "__main__":
    main()
