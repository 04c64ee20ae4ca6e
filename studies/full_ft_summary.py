"""§5.1 on the world: do GU and LPFT close the gap to full fine-tuning? (studies/grids/v3/full_ft*.yaml)

Reads the runs of ``full_ft`` (full fine-tuning at each lr), ``full_ft_adapters`` (MAD-X standard, GU,
LPFT) and ``full_ft_schedules`` (GU and LPFT of full fine-tuning itself), and prints, per arm: English, the cross-lingual average (without English) as Figure 2's per cent of
each full fine-tuning row (ratio of the means over seeds, as ``unfreeze report --relative-to full``), and the
paired-by-seed differences with their 95 % CI (``findings_summary.paired``, the rule of finding (a)).

Verdict (the rule of finding (a), applied to the gap): there is a gap when full − standard's CI is above 0; GU
or LPFT closes (part of) it when its difference to standard has a CI above 0, widens it when below 0.

    python studies/full_ft_summary.py --runs runs/findings-v3 [--json docs/findings/v3/full_ft.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from findings_summary import paired, verdict_vs_standard  # noqa: E402

ARMS = {"standard": "full_ft_adapters/selector=standard", "topdown (GU)": "full_ft_adapters/selector=topdown",
        "lpft": "full_ft_adapters/selector=lpft", "full FT, topdown (ULMFiT GU)": "full_ft_schedules/selector=topdown",
        "full FT, lpft": "full_ft_schedules/selector=lpft"}
"""MAD-X arms (full_ft_adapters.yaml) and scheduled full fine-tuning (full_ft_schedules.yaml), by run folder."""


def per_seed(folder: Path) -> dict[int, dict]:
    out = {}
    for path in sorted(folder.glob("seed*/results.json")):
        result = json.loads(path.read_text())
        out[result["seed"]] = {"en": 100 * result["scores"]["en"], "avg": 100 * result["avg_xling"]}
    return out


def summarise(runs: Path) -> dict:
    fulls = {f"full (lr {d.name.split('=')[1]})": per_seed(d) for d in sorted((runs / "full_ft").glob("lr=*"))}
    arms = {**fulls, **{name: per_seed(runs / rel) for name, rel in ARMS.items()}}
    avg = {name: {s: v["avg"] for s, v in seeds.items()} for name, seeds in arms.items()}
    mean = {name: sum(v.values()) / len(v) for name, v in avg.items() if v}
    out = {"arms": {}}
    for name, seeds in arms.items():
        if not seeds:
            continue
        en = sum(v["en"] for v in seeds.values()) / len(seeds)
        row = {"seeds": sorted(seeds), "en": en, "avg": mean[name], "transfer_gap": en - mean[name],
               "percent_of": {f: 100 * mean[name] / mean[f] for f in fulls if f in mean},
               "vs_standard": paired(avg[name], avg["standard"]) if name != "standard" else None,
               "vs_full": {f: paired(avg[name], avg[f]) for f in fulls if f != name}}
        if row["vs_standard"]:
            row["verdict_vs_standard"] = verdict_vs_standard(row["vs_standard"])
        out["arms"][name] = row
    return out


def ci(p: dict | None) -> str:
    if not p:
        return "—"
    return f"{p['mean']:+.1f} [{p['lo']:+.1f}, {p['hi']:+.1f}]" if "lo" in p else f"{p['mean']:+.1f}"


def markdown(summary: dict) -> str:
    arms = summary["arms"]
    fulls = list(next(iter(arms.values()))["percent_of"])  # the full fine-tuning (standard) rows
    head = ["arm", "seeds", "En", "avg (no en)", "En − avg", *[f"% of {f}" for f in fulls], "Δ avg vs standard [95 % CI]",
            *[f"Δ avg vs {f}" for f in fulls], "verdict vs standard"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, r in arms.items():
        lines.append("| " + " | ".join([name, str(len(r["seeds"])), f"{r['en']:.1f}", f"{r['avg']:.1f}",
                                        f"{r['transfer_gap']:.1f}",
                                        *[f"{r['percent_of'].get(f, 0):.1f}" for f in fulls], ci(r["vs_standard"]),
                                        *[ci(r["vs_full"].get(f)) for f in fulls],
                                        r.get("verdict_vs_standard", "—")]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/findings-v3"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    summary = summarise(args.runs)
    if not summary["arms"]:
        print(f"no runs of studies/grids/v3/full_ft*.yaml under {args.runs}", file=sys.stderr)
        return 2
    print(markdown(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
