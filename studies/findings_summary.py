"""Numbers and figures of docs/findings.md from the run folders of the findings sweeps (studies/grids/*.yaml).

    python studies/findings_summary.py --runs runs/findings-v2 --dest docs/findings/v2
    python studies/findings_summary.py --runs runs/mine --dest /tmp/mine --seeds 11 12 13   # your seeds

Each study is one ``unfreeze sweep`` grid file; its cells are read from ``RUNS/<grid name>/<cell id>/``,
exactly where ``unfreeze sweep GRID --output-dir RUNS`` wrote them. A cell counts when the sweep would skip
it (finished, with the grid's configuration); missing cells are counted, not guessed.

The verdict rules were written down with the grid, before any result was seen:
- (a), (b): the paired-by-seed 95 % CI (Student t) of a selector's difference to ``standard`` in the
  cross-lingual average: above 0 -> the selector beats standard; below 0 -> it is worse; inside
  (-1, +1) points -> no difference as large as a point; otherwise the seeds cannot tell.
- (c): Kendall tau of FUN's unfreezing order against top-down, per seed; close to top-down when the mean
  tau over seeds is at least 0.5, not close when it is at most 0.2.
- (d): GU's tr(F) per trainable unit is "higher early" when its mean over the first third of training
  exceeds standard's in every seed; "hill-shaped" when the mean curve peaks strictly inside the run and
  both its first and its last point are at most 80 % of the peak.
- (e): schedules that start at the top "group together" when the footnote-10 grouping (sorted, groups of
  runs within 1 point of the group's best) never mixes top- and bottom-starting schedules, and the top
  starters' mean exceeds the bottom starters' with an exact permutation p < 0.05.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path

GRIDS = Path(__file__).resolve().parent / "grids"

T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045,
        2.042]
SELECTORS = ["standard", "topdown", "bottomup", "lpft", "random", "fisher"]
TRANSFER_STUDIES = ("nli", "nli_long", "copa", "qa")  # studies that cross the selectors with seeds
TOP_DOWN = list(range(7, -1, -1))  # the world's eight units


def top_down(n: int) -> list[int]:
    """Top-down's order of ``n`` units (the world: 8; minilm with LoRA: 6)."""
    return list(range(n - 1, -1, -1))


def t975(df: int) -> float:
    return T975[df - 1] if df <= len(T975) else 1.96 + 2.4 / df


def mean(xs):
    return sum(xs) / len(xs)


def sd(xs):
    return math.sqrt(sum((x - mean(xs)) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else float("nan")


def paired(a: dict, b: dict) -> dict:
    """Difference a - b over the seeds both have: mean, sd, 95 % CI, and the seeds a CI narrower than 1 needs."""
    seeds = sorted(set(a) & set(b))
    d = [a[s] - b[s] for s in seeds]
    out = {"n": len(d), "mean": mean(d) if d else float("nan"), "sd": sd(d)}
    if len(d) > 1:
        half = t975(len(d) - 1) * out["sd"] / math.sqrt(len(d))
        out.update(lo=out["mean"] - half, hi=out["mean"] + half, width=2 * half,
                   seeds_for_width_1=next((n for n in range(2, 10_000)
                                               if 2 * t975(n - 1) * out["sd"] / math.sqrt(n) < 1), "> 10,000"))
    return out


def verdict_vs_standard(p: dict, better: bool = True) -> str:
    if "lo" not in p:
        return "cannot tell (one seed)"
    if p["lo"] > 0:
        return "better" if better else "better (the paper: worse)"
    if p["hi"] < 0:
        return "worse"
    if -1 < p["lo"] and p["hi"] < 1:
        return "no difference of 1 point"
    return "cannot tell"


def kendall_tau(order: list[int], reference: list[int]) -> float:
    """tau-a between two unfreezing orders of the same units (the position of each unit in each)."""
    pos_a = {u: i for i, u in enumerate(order)}
    pos_b = {u: i for i, u in enumerate(reference)}
    units = list(pos_a)
    pairs = list(itertools.combinations(units, 2))
    s = sum(1 if (pos_a[u] - pos_a[v]) * (pos_b[u] - pos_b[v]) > 0 else -1 for u, v in pairs)
    return s / len(pairs)


# ------------------------------------------------------------------------------------------- reading

def load(grid_files: list[Path], runs: Path, seeds: list[int] | None = None) -> dict[str, list[dict]]:
    """study (grid name) -> cells with their settings, and results and run (plots.Run) where finished."""
    from unfreeze_core import grid as grids
    from unfreeze_report.plots import read_run
    from unfreeze_core.sweep import cell_start

    studies: dict[str, list[dict]] = {}
    for path in grid_files:
        grid = grids.load_grid(path)
        for cell in grids.cells(grid, runs, {"seeds": list(seeds)} if seeds else None):
            entry = {"name": cell.id, "config": cell.settings, "seed": cell.point["seed"]}
            if cell_start(cell)[0] == "skip":
                run = read_run(cell.run_dir)
                entry["results"], entry["run"] = run.results, run
            studies.setdefault(grid.name, []).append(entry)
    return studies


def points(results: dict, value: float) -> float:
    return 100 * value if results["metric"] == "accuracy" else value


def scores(cell: dict) -> dict:
    """En, and the cross-lingual average and lowest language where the run has target languages (a run on
    English only, such as the real-weights grid's, has En alone)."""
    r = cell["results"]
    out = {"en": points(r, r["scores"]["en"])}
    if r.get("avg_xling") is not None:
        out.update(avg=points(r, r["avg_xling"]), lowest=points(r, r["lowest"]["score"]))
    return out


def order_of(run) -> list[int]:
    return [u for event in sorted(run.schedule, key=lambda e: e["step"]) for u in event.get("units", [])]


# ------------------------------------------------------------------------------------------- studies

def transfer(cells: list[dict]) -> dict:
    """Per selector: mean ± sd of En / avg / lowest over seeds and paired differences to standard."""
    by = {}
    for cell in cells:
        if "results" in cell:
            by.setdefault(cell["config"]["selector"], {})[cell["seed"]] = scores(cell)
    table = {}
    keys = [k for k in ("en", "avg", "lowest") if all(k in v for seeds in by.values() for v in seeds.values())]
    on = "avg" if "avg" in keys else "en"  # the verdict's measure: the cross-lingual average, else English
    for sel in [s for s in SELECTORS if s in by]:
        row = {"seeds": sorted(by[sel]), "verdict_on": on}
        for key in keys:
            values = [by[sel][s][key] for s in sorted(by[sel])]
            row[key] = {"mean": mean(values), "sd": sd(values), "per_seed": values}
            if sel != "standard" and "standard" in by:
                row[f"d_{key}"] = paired({s: v[key] for s, v in by[sel].items()},
                                         {s: v[key] for s, v in by["standard"].items()})
        if sel != "standard" and "standard" in by:
            row[f"verdict_{on}"] = verdict_vs_standard(row[f"d_{on}"])
        if sel in ("bottomup", "fisher") and "topdown" in by:
            row[f"d_{on}_vs_topdown"] = paired({s: v[on] for s, v in by[sel].items()},
                                               {s: v[on] for s, v in by["topdown"].items()})
        table[sel] = row
    return table


def fun_orders(cells: list[dict]) -> dict:
    """Per FUN seed: the order, Kendall tau against top-down, and the step-0 estimate's spread."""
    seeds = {}
    for cell in cells:
        if "results" not in cell or cell["config"]["selector"] != "fisher":
            continue
        run = cell["run"]
        order = order_of(run)
        entry = {"order": order, "tau": kendall_tau(order, top_down(len(order)))}
        scored = [e for e in sorted(run.schedule, key=lambda e: e["step"]) if e.get("scores")]
        if scored:
            first = {int(u): v for u, v in scored[0]["scores"].items()}
            ranked = sorted(first.values(), reverse=True)
            entry["first_estimate"] = {"step": scored[0]["step"], "scores": first,
                                       "max_over_min": ranked[0] / ranked[-1],
                                       "lead_over_second": ranked[0] / ranked[1] - 1,
                                       "tau_vs_top_down": kendall_tau(sorted(first, key=lambda u: -first[u]),
                                                                      top_down(len(first)))}
        seeds[cell["seed"]] = entry
    taus = [e["tau"] for e in seeds.values()]
    verdict = ("cannot tell (no runs)" if not taus else "holds" if mean(taus) >= 0.5
               else "does not hold" if mean(taus) <= 0.2 else "cannot tell")
    out = {"per_seed": seeds, "mean_tau": mean(taus) if taus else None, "verdict": verdict}
    if len(taus) > 1:
        half = t975(len(taus) - 1) * sd(taus) / math.sqrt(len(taus))
        out["tau_ci"] = [mean(taus) - half, mean(taus) + half]
    return out


def fisher_curves(cells: list[dict]) -> dict:
    """tr(F) per trainable unit, GU vs standard: early ratio per seed, the shape of the mean curve,
    and per tracked step the rank correlation of the units' tr(F) with top-down (standard runs)."""
    runs = {}
    for cell in cells:
        if "results" in cell and cell["run"].fisher:
            runs.setdefault(cell["config"]["selector"], {})[cell["seed"]] = cell["run"]
    out = {"early_ratio": {}, "shape": {}, "unit_rank_tau": {}}
    if {"standard", "topdown"} <= set(runs):
        for seed in sorted(set(runs["standard"]) & set(runs["topdown"])):
            s, g = runs["standard"][seed], runs["topdown"][seed]
            third = (s.steps or 600) / 3
            early = lambda r: mean([f["per_trainable"] for f in r.fisher if f["step"] <= third])  # noqa: E731
            out["early_ratio"][seed] = early(g) / early(s)
    for sel, by_seed in runs.items():
        steps = [f["step"] for f in next(iter(by_seed.values())).fisher]
        curve = [mean([r.fisher[i]["per_trainable"] for r in by_seed.values()]) for i in range(len(steps))]
        peak = max(range(len(curve)), key=curve.__getitem__)
        out["shape"][sel] = {"steps": steps, "mean_curve": curve, "peak_step": steps[peak],
                             "first_over_peak": curve[0] / curve[peak], "last_over_peak": curve[-1] / curve[peak],
                             "hill": 0 < peak < len(curve) - 1 and curve[0] <= 0.8 * curve[peak]
                             and curve[-1] <= 0.8 * curve[peak]}
        if sel == "standard":
            taus = {}
            for i, step in enumerate(steps):
                per_seed = []
                for r in by_seed.values():
                    f = {int(u): v for u, v in r.fisher[i]["fisher"].items()}
                    per_seed.append(kendall_tau(sorted(f, key=lambda u: -f[u]), top_down(len(f))))
                taus[step] = mean(per_seed)
            out["unit_rank_tau"] = taus
    ratios = list(out["early_ratio"].values())
    higher = bool(ratios) and all(r > 1 for r in ratios)
    hill = out["shape"].get("topdown", {}).get("hill")
    out["verdict"] = ("cannot tell (no runs)" if not ratios else
                      "holds" if higher and hill else
                      "partly holds (higher early, no hill)" if higher else
                      "partly holds (hill, not higher early)" if hill else "does not hold")
    return out


def group_runs(values: dict[str, float], delta: float = 1.0) -> list[list[str]]:
    """The paper's footnote 10: sort, take the best ungrouped run, group every run within delta of it."""
    left = sorted(values, key=lambda k: -values[k])
    groups = []
    while left:
        best = values[left[0]]
        group = [k for k in left if best - values[k] <= delta]
        groups.append(group)
        left = [k for k in left if k not in group]
    return groups


def schedules(cells: list[dict]) -> dict:
    avg = {}
    for cell in cells:
        if "results" in cell:
            order = cell["config"]["options"]["selector"]["order"]
            avg["".join(map(str, order))] = scores(cell)["avg"]
    top = [k for k in avg if k.startswith("7")]
    bottom = [k for k in avg if k.startswith("0")]
    groups = group_runs(avg)
    mixed = [g for g in groups if any(k in top for k in g) and any(k in bottom for k in g)]
    out = {"avg": avg, "groups": groups, "mixed_groups": len(mixed)}
    if top and bottom:
        observed = mean([avg[k] for k in top]) - mean([avg[k] for k in bottom])
        keys = list(avg)
        splits = list(itertools.combinations(keys, len(top)))
        as_large = sum(mean([avg[k] for k in t]) - mean([avg[k] for k in keys if k not in t]) >= observed - 1e-12
                       for t in splits)
        out.update(top_minus_bottom=observed, permutation_p=as_large / len(splits),
                   top_sd=sd([avg[k] for k in top]), bottom_sd=sd([avg[k] for k in bottom]))
        out["verdict"] = "holds" if not mixed and out["permutation_p"] < 0.05 else (
            "does not hold" if out["permutation_p"] >= 0.05 and mixed else "partly holds")
    return out


def one_unit(cells: list[dict]) -> dict:
    by = {cell["config"]["options"]["selector"]["units"][0]: scores(cell) for cell in cells if "results" in cell}
    units = sorted(by)
    out = {"per_unit": {u: by[u] for u in units}}
    if len(units) > 1:
        avg_order = sorted(units, key=lambda u: -by[u]["avg"])
        out["tau_avg_vs_top_down"] = kendall_tau(avg_order, TOP_DOWN)
        en_order = sorted(units, key=lambda u: -by[u]["en"])
        out["tau_en_vs_top_down"] = kendall_tau(en_order, TOP_DOWN)
    return out


# ------------------------------------------------------------------------------------------- figures

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.grid": True, "grid.alpha": 0.3})
    return plt


def fig_transfer(tables: dict, path: Path) -> None:
    plt = _plt()
    tasks = [t for t in TRANSFER_STUDIES if t in tables]
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.6 * len(tasks), 3.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        sels = [s for s in SELECTORS[1:] if s in tables[task] and "d_en" in tables[task][s]]
        for y, sel in enumerate(sels):
            for key, dy, color, label in (("d_avg", 0.12, "C0", "avg (no en)"), ("d_en", -0.12, "C3", "en")):
                p = tables[task][sel].get(key, {})
                if "lo" in p:
                    ax.errorbar(p["mean"], y + dy, xerr=[[p["mean"] - p["lo"]], [p["hi"] - p["mean"]]], fmt="o",
                                color=color, ms=4, capsize=2, label=label if y == 0 else None)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(sels)))
        ax.set_yticklabels(sels)
        n = tables[task]["standard"]["en"]["per_seed"]
        ax.set_title(f"{task}: minus standard ({len(n)} seeds)")
        ax.set_xlabel("points (95 % CI, paired by seed)")
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def fig_fun_orders(fun: dict, extra: dict, path: Path, title: str = "world NLI") -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    n = max(len(e["order"]) for e in fun["per_seed"].values())
    ax.plot(range(n), top_down(n), color="black", lw=2, label="top-down")
    for label, data, style in (("FUN", fun, "-"), ("FUN top_first", extra, ":")):
        for seed, entry in sorted(data.get("per_seed", {}).items()):
            ax.plot(range(len(entry["order"])), entry["order"], style, marker="o", ms=3, alpha=0.7,
                    label=f"{label} s{seed} (τ {entry['tau']:+.2f})")
    ax.set_xlabel("unfreezing position (step / k)")
    ax.set_ylabel("unit unfrozen")
    ax.set_title(f"FUN's unfreezing order, {title}")
    ax.legend(fontsize=6, ncol=2, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def fig_schedules(cells: list[dict], info: dict, path: Path) -> None:
    plt = _plt()
    fig, (a0, a1, a2) = plt.subplots(1, 3, figsize=(11, 3.3))
    avg = info["avg"]
    keys = sorted(avg, key=lambda k: -avg[k])
    group_of = {k: i for i, g in enumerate(info["groups"]) for k in g}
    for x, k in enumerate(keys):
        a0.bar(x, avg[k], color="C0" if k.startswith("7") else "C1")
        a0.text(x, avg[k] + 0.1, str(group_of[k] + 1), ha="center", fontsize=6)
    a0.set_xticks(range(len(keys)))
    a0.set_xticklabels(keys, rotation=90, fontsize=6)
    a0.set_ylim(min(avg.values()) - 2, max(avg.values()) + 1)
    a0.set_title("avg (no en) per schedule; number: group (fn. 10)")
    for cell in cells:
        if "results" not in cell:
            continue
        run = cell["run"]
        key = "".join(map(str, cell["config"]["options"]["selector"]["order"]))
        color = "C0" if key.startswith("7") else "C1"
        if run.validation:
            a1.plot([s for s, _ in run.validation], [100 * v for _, v in run.validation], color=color, alpha=0.6, lw=1)
        if run.fisher:
            a2.plot([f["step"] for f in run.fisher], [f["per_trainable"] for f in run.fisher], color=color,
                    alpha=0.6, lw=1)
    a1.set_title("en validation accuracy (blue: top first)")
    a1.set_xlabel("step")
    a2.set_title("tr(F) per trainable unit")
    a2.set_xlabel("step")
    a2.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def fig_one_unit(info: dict, path: Path) -> None:
    plt = _plt()
    units = sorted(info["per_unit"])
    fig, ax = plt.subplots(figsize=(4.4, 3.0))
    ax.plot(units, [info["per_unit"][u]["en"] for u in units], "o-", color="C3", label="en")
    ax.plot(units, [info["per_unit"][u]["avg"] for u in units], "o-", color="C0", label="avg (no en)")
    ax.set_xlabel("the one trainable unit (layer)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("one unit trained alone, world NLI, seed 1")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def fig_fisher(cells: list[dict], path: Path) -> None:
    from unfreeze_report.plots import plot_fisher

    runs = [c["run"] for c in cells if "results" in c and c["run"].fisher]
    if runs:
        plot_fisher(runs, path)


# ------------------------------------------------------------------------------------------- output

def _fmt(p: dict) -> str:
    if "lo" not in p:
        return f"{p['mean']:+.1f}"
    return f"{p['mean']:+.1f} [{p['lo']:+.1f}, {p['hi']:+.1f}]"


def markdown(summary: dict) -> str:
    lines = []
    for task in TRANSFER_STUDIES:
        table = summary.get("transfer", {}).get(task)
        if not table:
            continue
        n = len(table["standard"]["seeds"]) if "standard" in table else 0
        if next(iter(table.values()))["verdict_on"] == "en":
            lines += english_only(task, n, table, summary)
            continue
        lines += [f"### {task} ({n} seeds)", "",
                  "| selector | En | avg (no en) | lowest | Δ avg vs standard [95 % CI] | Δ En | Δ lowest | "
                  "verdict (avg) | seeds for CI < 1 |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for sel, row in table.items():
            cells = [sel] + [f"{row[k]['mean']:.1f} ± {row[k]['sd']:.1f}" for k in ("en", "avg", "lowest")]
            if "d_avg" in row:
                cells += [_fmt(row["d_avg"]), _fmt(row["d_en"]), _fmt(row["d_lowest"]), row["verdict_avg"],
                          str(row["d_avg"].get("seeds_for_width_1", "-"))]
            else:
                cells += ["—"] * 5
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def english_only(task: str, n: int, table: dict, summary: dict) -> list[str]:
    """The table of a study without target languages (real weights): English, paired to standard; then
    (c) FUN's order and (d) tr(F) when the study has them."""
    lines = [f"### {task} ({n} seeds, English only)", "",
             "| selector | En | Δ En vs standard [95 % CI] | verdict (En) | seeds for CI < 1 | Δ En vs topdown |",
             "| --- | --- | --- | --- | --- | --- |"]
    for sel, row in table.items():
        cells = [sel, f"{row['en']['mean']:.1f} ± {row['en']['sd']:.1f}"]
        if "d_en" in row:
            cells += [_fmt(row["d_en"]), row["verdict_en"], str(row["d_en"].get("seeds_for_width_1", "-"))]
        else:
            cells += ["—"] * 3
        cells.append(_fmt(row["d_en_vs_topdown"]) if "d_en_vs_topdown" in row else "—")
        lines.append("| " + " | ".join(cells) + " |")
    fun = summary.get("fun", {}).get(task, {})
    if fun.get("per_seed"):
        ci = fun.get("tau_ci")
        lines += ["", f"(c) FUN's order against top-down: mean Kendall τ {fun['mean_tau']:+.2f}"
                  + (f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "") + f" over {len(fun['per_seed'])} seeds: "
                  f"{fun['verdict']}.", "", "| seed | order | τ |", "| --- | --- | --- |"]
        lines += [f"| {seed} | {' '.join(map(str, e['order']))} | {e['tau']:+.2f} |"
                  for seed, e in sorted(fun["per_seed"].items())]
    curves = summary.get("fisher_curves")
    if curves and curves.get("early_ratio"):
        ratios = curves["early_ratio"]
        lines += ["", f"(d) tr(F) per trainable unit, GU over standard in the first third, per seed: "
                  + ", ".join(f"{r:.2f}" for _, r in sorted(ratios.items())) + f"; verdict: {curves['verdict']}."]
        for sel, shape in curves["shape"].items():
            lines.append(f"- {sel}: mean curve at steps {shape['steps']}: "
                         + ", ".join(f"{v:.3g}" for v in shape["mean_curve"])
                         + f" (peak at step {shape['peak_step']}, hill: {shape['hill']})")
        if curves.get("unit_rank_tau"):
            lines.append("- standard, Kendall τ of the units' tr(F) ranking against top-down per tracked step: "
                         + ", ".join(f"{step}: {tau:+.2f}" for step, tau in curves["unit_rank_tau"].items()))
    lines.append("")
    return lines


def summarise(grid_files: list[Path], runs: Path, dest: Path, seeds: list[int] | None = None) -> dict:
    dest.mkdir(parents=True, exist_ok=True)
    studies = load(grid_files, runs, seeds)
    summary = {"cells": {s: f"{sum('results' in c for c in cells)}/{len(cells)}" for s, cells in studies.items()},
                "transfer": {t: transfer(studies[t]) for t in TRANSFER_STUDIES if t in studies}}
    summary["fun"] = {t: fun_orders(studies[t]) for t in TRANSFER_STUDIES if t in studies}
    if "fun_top_first" in studies:
        summary["fun_top_first"] = fun_orders(studies["fun_top_first"])
        std = {c["seed"]: scores(c)["avg"] for c in studies["nli"] if "results" in c
               and c["config"]["selector"] == "standard"}
        tf = {c["seed"]: scores(c)["avg"] for c in studies["fun_top_first"] if "results" in c}
        summary["fun_top_first"]["d_avg"] = paired(tf, std)
    curves = studies.get("fisher_curves")
    if curves is None and any("results" in c and c["run"].fisher for c in studies.get("nli", [])):
        curves = studies["nli"]  # a study that tracks tr(F) in its own cells (the real-weights grid)
    if curves is not None:
        summary["fisher_curves"] = fisher_curves(curves)
        fig_fisher(curves, dest / "fisher_curves.png")
    if "schedules" in studies and any("results" in c for c in studies["schedules"]):
        summary["schedules"] = schedules(studies["schedules"])
        fig_schedules(studies["schedules"], summary["schedules"], dest / "schedules.png")
    if "one_unit" in studies and any("results" in c for c in studies["one_unit"]):
        summary["one_unit"] = one_unit(studies["one_unit"])
        fig_one_unit(summary["one_unit"], dest / "one_unit.png")
    if any(summary["transfer"].values()) and "standard" in summary["transfer"].get("nli", {}):
        fig_transfer({t: v for t, v in summary["transfer"].items() if "standard" in v}, dest / "transfer.png")
    if summary["fun"].get("nli", {}).get("per_seed"):
        model = next(c["config"]["model"] for c in studies["nli"])
        fig_fun_orders(summary["fun"]["nli"], summary.get("fun_top_first", {}), dest / "fun_order.png",
                       "world NLI" if model == "world" else f"{model}, English NLI")
    (dest / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    (dest / "summary.md").write_text(markdown(summary) + "\n")
    print(json.dumps(summary["cells"]))
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True, help="the sweeps' --output-dir")
    parser.add_argument("--dest", type=Path, required=True, help="summary.json, summary.md and figures go here")
    parser.add_argument("--grids", type=Path, nargs="+", default=sorted(GRIDS.glob("*.yaml")),
                        help="the studies' grid files (default: every file in studies/grids)")
    parser.add_argument("--seeds", type=int, nargs="+", help="read these seeds instead of each grid's own")
    args = parser.parse_args(argv)
    from unfreeze_core.errors import UnfreezeError

    if not args.runs.is_dir():
        print(f"error: no runs folder {args.runs}", file=sys.stderr)
        return 2
    try:
        summarise(args.grids, args.runs, args.dest, args.seeds)
    except UnfreezeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
