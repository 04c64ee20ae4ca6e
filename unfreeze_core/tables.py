"""Rich tables of results: per language, the average without the train language, and the lowest."""

from __future__ import annotations

from .results import scale


def _fmt(mean: float, std: float | None, factor: float) -> str:
    text = f"{mean * factor:.1f}"
    return text + (f" ± {std * factor:.1f}" if std else "")


def _grid(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the Table 1 shape for rows of one task."""
    langs = list(dict.fromkeys(lang for r in rows for lang in r["scores"]))
    factor = scale(rows[0]["metric"])
    header = ["model", "adapter", "selector", "seeds", *langs, "avg (no en)", "lowest"]
    body = [[r["model"], r["adapter"], r["selector"], str(len(r["seeds"])),
             *(_fmt(*r["scores"][lang], factor) if lang in r["scores"] else "-" for lang in langs),
             _fmt(*r["avg_xling"], factor), _fmt(*r["lowest"], factor)] for r in rows]
    return header, body


def by_task(rows: list[dict]) -> dict[str, list[dict]]:
    return {task: [r for r in rows if r["task"] == task] for task in dict.fromkeys(r["task"] for r in rows)}


def to_markdown(rows: list[dict]) -> str:
    out = []
    for task, group in by_task(rows).items():
        header, body = _grid(group)
        out.append(f"**{task}** ({group[0]['metric']}, mean ± std over seeds)\n")
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join(" --- " for _ in header) + "|")
        out += ["| " + " | ".join(cells) + " |" for cells in body]
        out.append("")
    return "\n".join(out)


def to_latex(rows: list[dict]) -> str:
    out = []
    for task, group in by_task(rows).items():
        header, body = _grid(group)
        out.append("% " + f"{task}: {group[0]['metric']}, mean $\\pm$ std over seeds")
        out.append("\\begin{tabular}{lll" + "r" * (len(header) - 3) + "}")
        out.append("\\toprule")
        out.append(" & ".join(h.replace("_", "\\_") for h in header) + " \\\\")
        out.append("\\midrule")
        out += [" & ".join(c.replace("±", "$\\pm$") for c in cells) + " \\\\" for cells in body]
        out.append("\\bottomrule")
        out.append("\\end{tabular}")
        out.append("")
    return "\n".join(out)


def to_csv(rows: list[dict]) -> str:
    """The same cells as to_markdown, one CSV line per row, a ``task`` column first."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    for task, group in by_task(rows).items():
        header, body = _grid(group)
        writer.writerow(["task", "metric", *header])
        writer.writerows([task, group[0]["metric"], *cells] for cells in body)
    return out.getvalue()


def print_rows(rows: list[dict], console=None) -> None:
    """Table 1 shape: one row per (task, adapter, selector); columns en, other languages, avg, lowest."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    for task, group in by_task(rows).items():
        header, body = _grid(group)
        table = Table(title=f"{task}: {group[0]['metric']} (mean ± std over seeds)")
        for column in header:
            table.add_column(column, justify="left" if column in ("model", "adapter", "selector") else "right")
        for cells in body:
            table.add_row(*cells)
        console.print(table)


def print_seed(result: dict, console=None) -> None:
    """One seed's scores per language."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    factor = scale(result["metric"])
    table = Table(title=f"{result['task']} / {result['adapter']} / {result['selector']} / seed {result['seed']}: "
                        f"{result['metric']}")
    table.add_column("language")
    table.add_column(result["metric"], justify="right")
    for lang, score in result["scores"].items():
        table.add_row(lang, f"{score * factor:.1f}")
    if result["avg_xling"] is not None:
        table.add_row("avg (no en)", f"{result['avg_xling'] * factor:.1f}", style="bold")
        table.add_row(f"lowest ({result['lowest']['lang']})", f"{result['lowest']['score'] * factor:.1f}")
    console.print(table)
