"""Does a world have the properties v3 must have? (docs/findings.md, "World v3: the properties")

Runs the check (``standard``, the default job, one thread, two runs at a time) on the given seeds, the layer
probe (`world_layers.py`) and the phenomena (`world_nli_phenomena.py`), then decides P1-P7 by the rules
fixed before the first candidate was built:

    python studies/world_properties.py --world /tmp/w3 --runs /tmp/w3-check --out w3_properties.json
    python studies/world_properties.py --world /tmp/w3 --runs /tmp/w3-check --seeds 201 202 203 204   # other seeds

Finished runs in ``--runs`` are reused (P4 then reads the wall time this script recorded for them, if any).
Exit status 0 only when every property passes. The world is one built with `unfreeze world build --out DIR`
(P7 reads its manifest's build time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
V2_LAYERS = HERE.parent / "docs" / "findings" / "v2" / "world_layers.json"


class StepFailed(Exception):
    pass


def step(what: str, args: list[str]) -> None:
    """Run one step in a Python process of its own; a failure is one line with the step's last error line."""
    done = subprocess.run([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "no message")
        raise StepFailed(f"{what} failed (exit {done.returncode}): {last.strip()}")


def check_run(world: Path, runs: Path, seed: int) -> dict:
    """One seed of the default job on ``world``; its scores and wall time (None when reused)."""
    folder = runs / f"s{seed}"
    found = sorted(folder.glob("**/results.json"))
    wall = None
    if not found:
        t0 = time.time()
        step(f"check run, seed {seed}", [
            "-m", "unfreeze_cli", "run", "--model", str(world / "model"), "-o", f"lang_adapters={world / 'adapters'}",
            "--data-dir", str(world / "data" / "nli"), "--seed", str(seed), "--threads", "1", "--checkpoint-every", "0",
            "--output-dir", str(folder)])
        wall = time.time() - t0
        (folder / "wall_s.txt").write_text(f"{wall:.1f}\n")
        found = sorted(folder.glob("**/results.json"))
    elif (folder / "wall_s.txt").exists():
        wall = float((folder / "wall_s.txt").read_text())
    scores = {k: 100 * v for k, v in json.loads(found[0].read_text())["scores"].items()}
    return {"seed": seed, "scores": scores, "avg": statistics.mean(v for k, v in scores.items() if k != "en"),
            "wall_s": wall}


def properties(world: Path, runs: Path, seeds: list[int]) -> dict:
    with ThreadPoolExecutor(2) as pool:
        checks = list(pool.map(lambda s: check_run(world, runs, s), seeds))
    layers_out, phen_out = runs / "layers.json", runs / "phenomena.json"
    if not layers_out.exists():
        step("layer probe", [str(HERE / "world_layers.py"), "--world", str(world), "--train", "3000", "--threads", "1",
                             "--out", str(layers_out)])
    if not phen_out.exists():
        step("phenomena", [str(HERE / "world_nli_phenomena.py"), str(runs), "--threads", "1", "--out", str(phen_out)])
    layers = json.loads(layers_out.read_text())["layers"]
    v2 = json.loads(V2_LAYERS.read_text())["layers"]
    negated = json.loads(phen_out.read_text())["summary"]["standard"]["negated"]["avg_no_en"] * 100
    probe = [100 * layer["probe_en"] for layer in layers]
    retrieval = [layer["retrieval_avg"] for layer in layers]
    en = statistics.mean(c["scores"]["en"] for c in checks)
    avgs = [c["avg"] for c in checks]
    lowest = min(v for c in checks for k, v in c["scores"].items() if k != "en")
    walls = [c["wall_s"] for c in checks if c["wall_s"] is not None]
    build_s = json.loads((world / "manifest.json").read_text())["timings"]["total_s"]
    p = {
        "P1 composition readable higher up": (max(probe[5:9]) >= probe[0] + 5,
                                              f"probe layer 0 {probe[0]:.1f}, best of 5-8 {max(probe[5:9]):.1f}"),
        "P2 aligned layer by layer >= v2 - 0.02": (
            all(r >= ref["retrieval_avg"] - 0.02 for r, ref in zip(retrieval, v2)),
            "retrieval " + ", ".join(f"{r:.3f}" for r in retrieval)),
        "P3 negated items transfer (targets >= 45)": (negated >= 45, f"targets {negated:.1f}"),
        "P4 default job < 3 min": (max(walls) < 180 if walls else None,
                                   f"longest {max(walls):.0f} s" if walls else "not timed (runs made elsewhere)"),
        "P5 English >= 70, average >= 60": (en >= 70 and statistics.mean(avgs) >= 60,
                                           f"English {en:.1f}, average {statistics.mean(avgs):.1f}"),
        "P6 sd <= 2, no language < 45": (statistics.stdev(avgs) <= 2 and lowest >= 45,
                                         f"sd {statistics.stdev(avgs):.2f}, lowest {lowest:.1f}"),
        "P7 build < 10 min": (build_s < 600, f"{build_s:.0f} s"),
    }
    return {"world": str(world), "seeds": seeds, "checks": checks,
            "properties": {k: {"passes": ok, "measured": text} for k, (ok, text) in p.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, required=True, help="a world folder (unfreeze world build --out DIR)")
    parser.add_argument("--runs", type=Path, required=True, help="where the check runs go (reused when finished)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103, 104])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    missing = [part for part in ("manifest.json", "model", "adapters", "data/nli") if not (args.world / part).exists()]
    if missing:
        parser.error(f"{args.world} is not a built world (no {', '.join(missing)}): build one with "
                     "`unfreeze world build --out DIR`")
    if len(set(args.seeds)) < 2 or len(set(args.seeds)) != len(args.seeds):
        parser.error("--seeds needs two or more different seeds (P6 is a standard deviation over them)")
    try:
        result = properties(args.world, args.runs, args.seeds)
    except StepFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, verdict in result["properties"].items():
        word = {True: "passes", False: "FAILS ", None: "  --  "}[verdict["passes"]]
        print(f"{word}  {name}: {verdict['measured']}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if all(v["passes"] for v in result["properties"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
