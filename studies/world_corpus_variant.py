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
import random
from dataclasses import replace
from pathlib import Path

# event verb -> (state if it happened, negated?), (state if it did not, negated?)
CONSEQUENCES = {
    "eat": (("full", False), ("hungry", False)),
    "drink": (("thirsty", True), ("thirsty", False)),
    "wear": (("cold", True), ("cold", False)),
    "find": (("happy", False), ("sad", False)),
    "lose": (("sad", False), ("happy", False)),
}


def consequence_pair(rng: random.Random, lang, sampler) -> list[str]:
    from unfreeze_core.world.generator import State

    verb = rng.choice(sorted(CONSEQUENCES))
    neg = rng.random() < 0.5
    agent = replace(sampler.agent(), adjs=())
    event = replace(sampler.event(verb, p_place=0.3, p_time=0.2), agent=agent, neg=neg)
    state, state_neg = CONSEQUENCES[verb][1 if neg else 0]
    return lang.sentence(event).words + lang.sentence(State(agent, state, state_neg)).words


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--p", type=float, default=0.5, help="share of documents that get a consequence pair")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import unfreeze_core.world.build as build_module
    from unfreeze_core.world.build import BuildConfig, build
    from unfreeze_core.world.generator import Sampler, corpus_document, join

    def document(rng, lang, n_sent=5):
        text = corpus_document(rng, lang, n_sent)
        if rng.random() < args.p:
            text += " " + join(consequence_pair(rng, lang, Sampler(rng)))
        return text

    build_module.corpus_document = document  # the only change: the pretraining (and language-adapter) text
    manifest = build(args.out, BuildConfig(seed=0, threads=args.threads))
    print(f"built {args.out}: mlm loss {manifest['encoder']['mlm_loss']}, {manifest['timings']}")


if __name__ == "__main__":
    main()
