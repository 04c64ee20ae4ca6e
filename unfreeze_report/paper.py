"""The paper's Table 1 layout: tasks as column groups (train language, average without it, lowest), models ×
selectors as rows, mean ± sample std over n seeds (a ``seeds`` column gives n; a cell of one seed has no std
and is marked ``(n=1)``, a cell whose n is not its row's says its own); the best mean of each column within a
model's block in bold; a dagger where a selector differs significantly from ``standard`` (``stats.TEST``), a
circle where it could not be tested (fewer than two seeds in common with standard), nothing where it was tested
and is not significant.

A row is a model's block (model, adapter, and any setting that differs between runs of one task, model,
adapter and selector — e.g. ``task.train_limit`` in the reduced-data presets) and a selector. Settings that
go with the task or the selector (the paper's epochs, lr and k per selector) do not split rows.
"""

from __future__ import annotations

import json

from . import stats
from .results import NAMED, differing, mean_std, scale, show
from .tables import md_escape, tex_escape

MEASURES = (("train", None), ("avg_xling", "avg"), ("lowest", "lowest"))
"""(key in a row's ``per_seed``, column label); the train language's label is its code (``en``)."""
BASELINE = "standard"
DAGGER = "†"
UNTESTED = "°"


def split_dimensions(rows: list[dict]) -> list[str]:
    """Settings that differ between rows of the same task, model, adapter and selector: they split rows."""
    same: dict[tuple, list[dict]] = {}
    for r in rows:
        same.setdefault(tuple(r[k] for k in NAMED), []).append(r["settings"])
    return list(dict.fromkeys(k for group in same.values() for k in differing(group)))


def build(rows: list[dict]) -> dict:
    """The layout as data: tasks (with metric and train language), blocks of rows, and per cell the mean, std,
    seeds, p-value against standard, whether it is significant and whether it is the block's best."""
    dims = split_dimensions(rows)
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    blocks: dict[tuple, dict[str, dict[str, dict]]] = {}
    for r in rows:
        block = (r["model"], r["adapter"], *(json.dumps(r["settings"].get(k), sort_keys=True) for k in dims))
        blocks.setdefault(block, {}).setdefault(r["selector"], {})[r["task"]] = r
    out_blocks = []
    for block, selectors in blocks.items():
        order = sorted(selectors, key=lambda s: (s != BASELINE, s))
        lines = []
        for selector in order:
            cells = {}
            for task in tasks:
                row = selectors[selector].get(task)
                base = selectors.get(BASELINE, {}).get(task)
                for key, _ in MEASURES:
                    cells[(task, key)] = _cell(row, base, key, selector)
            first = next(iter(selectors[selector].values()))
            counts = sorted({c["seeds"] for c in cells.values() if c["mean"] is not None})
            lines.append({"selector": selector, "settings": {k: first["settings"].get(k) for k in dims},
                          "seeds": counts[-1] if counts else 0,
                          "seeds_shown": "-" if not counts else str(counts[0]) if len(counts) == 1
                          else f"{counts[0]}–{counts[-1]}", "cells": cells})
        for task in tasks:
            for key, _ in MEASURES:
                means = [line["cells"][(task, key)]["mean"] for line in lines]
                known = [m for m in means if m is not None]
                if len(set(known)) > 1:  # a column where all are equal has no best
                    for line, mean in zip(lines, means):
                        line["cells"][(task, key)]["best"] = mean == max(known)
        out_blocks.append({"model": block[0], "adapter": block[1], "lines": lines})
    info = {t: next(r for r in rows if r["task"] == t) for t in tasks}
    return {"dimensions": dims, "tasks": [{"task": t, "metric": info[t]["metric"], "train_language":
                                           info[t]["train_language"]} for t in tasks], "blocks": out_blocks}


def _cell(row: dict | None, base: dict | None, key: str, selector: str) -> dict:
    """mean, sample std (None for one seed), seeds; against standard: ``tested`` (two or more common seeds),
    ``p`` and ``significant``; ``tested`` is None where there is nothing to test (standard itself, no standard)."""
    cell = {"mean": None, "std": None, "seeds": 0, "p": None, "tested": None, "significant": False, "best": False}
    if row is None:
        return cell
    values = {s: v[key] for s, v in row["per_seed"].items() if v[key] is not None}
    if not values:
        return cell
    pair = mean_std(list(values.values()))
    cell.update(mean=pair[0], std=pair[1] if len(values) > 1 else None, seeds=len(values))
    if base is not None and selector != BASELINE:
        theirs = {s: v[key] for s, v in base["per_seed"].items() if v[key] is not None}
        common = sorted(set(values) & set(theirs))
        p = stats.paired_t_test([values[s] for s in common], [theirs[s] for s in common])
        cell.update(p=p, tested=p is not None, significant=p is not None and p < stats.ALPHA)
    elif selector != BASELINE:
        cell["tested"] = False  # no standard row to test against
    return cell


def _header(layout: dict) -> list[tuple[str, str]]:
    """(task, column label) per numeric column."""
    return [(t["task"], label or t["train_language"]) for t in layout["tasks"] for _, label in MEASURES]


def _names(layout: dict, block: dict, line: dict) -> list[str]:
    return [block["model"], block["adapter"], *(show(line["settings"][k]) for k in layout["dimensions"]),
            line["selector"], line["seeds_shown"]]


def _name_columns(layout: dict) -> list[str]:
    return ["model", "adapter", *layout["dimensions"], "selector", "seeds"]


def _number(cell: dict, factor: float, bold, mark: str, untested: str = UNTESTED, line_seeds: int = 0) -> str:
    """``mean ± std`` (n >= 2, even when the std is 0), ``mean (n=1)`` for one seed, ``(n=k)`` after a cell
    whose n is not its row's; bold when best; ``mark`` when significant, ``untested`` when not tested."""
    if cell["mean"] is None:
        return "-"
    n = cell["seeds"]
    text = f"{cell['mean'] * factor:.1f}" + (f" ± {cell['std'] * factor:.1f}" if n > 1 else "")
    text = bold(text) if cell["best"] else text
    text += mark if cell["significant"] else untested if cell["tested"] is False else ""
    if n == 1 or n != line_seeds:
        text += f" (n={n})"
    return text


def _factors(layout: dict) -> dict[str, float]:
    return {t["task"]: scale(t["metric"]) for t in layout["tasks"]}


def note() -> str:
    return (f"mean ± sample std (n − 1 in the denominator) over n seeds (column seeds; (n=1): one seed, no std); "
            f"bold: the best of a model's block; {DAGGER}: the difference to {BASELINE} is significant "
            f"({stats.TEST}); no mark: tested, not significant; {UNTESTED}: not tested (fewer than two seeds in "
            f"common with {BASELINE})")


def to_markdown(rows: list[dict]) -> str:
    layout = build(rows)
    factors = _factors(layout)
    name_cols = _name_columns(layout)
    header = [*name_cols, *(f"{task} {label}" for task, label in _header(layout))]
    out = ["| " + " | ".join(map(md_escape, header)) + " |",
           "|" + "|".join(" --- " if i < len(name_cols) else " ---: " for i in range(len(header))) + "|"]
    for block in layout["blocks"]:
        for line in block["lines"]:
            numbers = [_number(line["cells"][(t["task"], key)], factors[t["task"]], lambda s: f"**{s}**", DAGGER,
                               line_seeds=line["seeds"]) for t in layout["tasks"] for key, _ in MEASURES]
            out.append("| " + " | ".join([*map(md_escape, _names(layout, block, line)), *numbers]) + " |")
    out += ["", note(), ""]
    return "\n".join(out)


def to_latex(rows: list[dict]) -> str:
    layout = build(rows)
    factors = _factors(layout)
    names = len(_name_columns(layout))
    ncols = len(MEASURES)
    out = ["\\begin{tabular}{" + "l" * names + ("r" * ncols) * len(layout["tasks"]) + "}", "\\toprule"]
    groups, rules = [], []
    for i, t in enumerate(layout["tasks"]):
        start = names + 1 + i * ncols
        groups.append(f"\\multicolumn{{{ncols}}}{{c}}{{{tex_escape(t['task'])} ({tex_escape(t['metric'])})}}")
        rules.append(f"\\cmidrule(lr){{{start}-{start + ncols - 1}}}")
    out.append(" & " * names + " & ".join(groups) + " \\\\")
    out.append(" ".join(rules))
    name_cols = _name_columns(layout)
    out.append(" & ".join(map(tex_escape, [*name_cols, *(label for _, label in _header(layout))])) + " \\\\")
    out.append("\\midrule")
    for b, block in enumerate(layout["blocks"]):
        if b:
            out.append("\\midrule")
        for line in block["lines"]:
            numbers = [_number(line["cells"][(t["task"], key)], factors[t["task"]],
                               lambda s: f"\\textbf{{{s}}}", "$^{\\dagger}$", "$^{\\circ}$",
                               line_seeds=line["seeds"]).replace("±", "$\\pm$")
                       for t in layout["tasks"] for key, _ in MEASURES]
            out.append(" & ".join([*map(tex_escape, _names(layout, block, line)), *numbers]) + " \\\\")
    out += ["\\bottomrule", "\\end{tabular}",
            "% " + note().replace(DAGGER, "dagger").replace(UNTESTED, "circle").replace("−", "-"),
            f"\\par\\smallskip{{\\footnotesize Mean $\\pm$ sample std ($n-1$ in the denominator) over $n$ seeds "
            f"(column seeds; (n=1): one seed, no std); bold: best of a model's block; $^{{\\dagger}}$: difference "
            f"to {BASELINE} significant ({tex_escape(stats.TEST).replace('<', '$<$')}); no mark: tested, not "
            f"significant; $^{{\\circ}}$: not tested (fewer than two seeds in common with {BASELINE}).}}",
            ""]
    return "\n".join(out)


def to_json(rows: list[dict]) -> str:
    layout = build(rows)
    for block in layout["blocks"]:
        for line in block["lines"]:
            line["cells"] = {f"{task}/{key}": cell for (task, key), cell in line["cells"].items()}
    return json.dumps({**layout, "test": stats.TEST}, indent=1)


def print_table(rows: list[dict], console=None) -> None:
    """The layout in the terminal (bold best, dagger for significant)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    layout = build(rows)
    factors = _factors(layout)
    table = Table(caption=escape(note()))
    for name in _name_columns(layout):
        table.add_column(escape(name))
    for task, label in _header(layout):
        table.add_column(escape(f"{task} {label}"), justify="right")
    for b, block in enumerate(layout["blocks"]):
        for i, line in enumerate(block["lines"]):
            numbers = [_number(line["cells"][(t["task"], key)], factors[t["task"]], lambda s: f"[bold]{s}[/bold]",
                               DAGGER, line_seeds=line["seeds"]) for t in layout["tasks"] for key, _ in MEASURES]
            table.add_row(*map(escape, _names(layout, block, line)), *numbers,
                          end_section=i == len(block["lines"]) - 1)
    console.print(table)


def to_csv(rows: list[dict]) -> str:
    """One line per row: names (and the row's seeds), then per task and measure its mean, sample std (empty for
    one seed), number of seeds, the p-value against standard (empty where there is none) and whether it was
    tested (yes / no: fewer than two common seeds / empty: standard itself); numbers as measured (accuracy in
    0..1)."""
    import csv
    import io

    layout = build(rows)
    out = io.StringIO()
    writer = csv.writer(out)
    numeric = [f"{task} {label} {part}" for task, label in _header(layout)
               for part in ("mean", "std", "seeds", "p", "tested")]
    writer.writerow([*_name_columns(layout), *numeric])
    for block in layout["blocks"]:
        for line in block["lines"]:
            values = []
            for t in layout["tasks"]:
                for key, _ in MEASURES:
                    cell = line["cells"][(t["task"], key)]
                    values += ["" if cell[k] is None else repr(cell[k]) for k in ("mean", "std")]
                    values += [cell["seeds"], "" if cell["p"] is None else f"{cell['p']:.4g}",
                               "" if cell["tested"] is None else "yes" if cell["tested"] else "no"]
            writer.writerow([*_names(layout, block, line), *values])
    return out.getvalue()
