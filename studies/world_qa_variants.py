"""Write the world's QA data as one of the variants measured when QA moved to task version 2.

`docs/findings.md` ("QA on world v3") trained `standard` on these to find a QA the world's task adapter
learns; the shipped data is version 2 (one event per story). Each variant is written like the shipped data
(`<out>/<lang>/<split>.jsonl`, the world's seed and sizes), for a run's `-o data_dir=`:

- ``v1``: stories of 3-5 events (QA task version 1, the data before; byte-identical to it);
- ``two``: stories of two events;
- ``distinct``: 3-5 events that share no verb, object or place.

    python studies/world_qa_variants.py two --out /tmp/qa-two
    unfreeze run --task qa --steps 600 --k 60 --seed 100 --threads 1 -o data_dir=/tmp/qa-two
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

VARIANTS = ("v1", "two", "distinct")


def distinct_story(rng: random.Random):
    """`generator.qa_latent` with 3-5 events whose verbs, object heads and places all differ."""
    from unfreeze_core.world import generator as g

    s = g.Sampler(rng)
    n = rng.randint(3, 5)
    names, verbs, places = rng.sample(g.NAMES, n), rng.sample(g.TRANSITIVE, n), rng.sample(g.PLACES, n)
    events, heads = [], set()
    for name, verb, place in zip(names, verbs, places):
        agent = g.NP(name, name=True) if rng.random() < 0.7 else g.NP(rng.choice(g.NOUNS["person"]), ())
        obj = s.obj_for(verb)
        while obj.head in heads:
            obj = s.obj_for(verb)
        heads.add(obj.head)
        events.append(g.Event(agent, verb, obj, place, None))
    q = rng.randrange(n)
    kinds = ["obj", "place"] + (["agent"] if [e.agent.head for e in events].count(events[q].agent.head) == 1 else [])
    return events, q, rng.choice(kinds)


def write_variant(variant: str, out: Path) -> dict[str, int]:
    """Write ``variant``'s QA data for the shipped world's seed; return record counts per file."""
    from unfreeze_core import world
    from unfreeze_core.world import generator, tasks

    saved = generator.QA_STORY_EVENTS, tasks.qa_latent
    try:
        if variant == "distinct":
            tasks.qa_latent = distinct_story
        else:
            generator.QA_STORY_EVENTS = (3, 5) if variant == "v1" else (2, 2)
        return tasks.write_task("qa", out, world.manifest()["seed"])
    finally:
        generator.QA_STORY_EVENTS, tasks.qa_latent = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("--out", type=Path, required=True, help="folder to write <lang>/<split>.jsonl into")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file: give a folder")
    counts = write_variant(args.variant, args.out)
    print(f"{args.variant}: {sum(counts.values())} records in {len(counts)} files -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
