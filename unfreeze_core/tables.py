"""Rich tables of results: per language, the average without the train language, and the lowest."""

from __future__ import annotations

from .results import scale


def _fmt(mean: float, std: float | None, factor: float) -> str:
    text = f"{mean * factor:.1f}"
    return text + (f" ± {std * factor:.1f}" if std else "")


def print_rows(rows: list[dict], console=None) -> None:
    """Table 1 shape: one row per (task, adapter, selector); columns en, other languages, avg, lowest."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    for task in dict.fromkeys(r["task"] for r in rows):
        group = [r for r in rows if r["task"] == task]
        langs = list(dict.fromkeys(lang for r in group for lang in r["scores"]))
        factor = scale(group[0]["metric"])
        table = Table(title=f"{task}: {group[0]['metric']} (mean ± std over seeds)")
        for column in ("adapter", "selector", "seeds", *langs, "avg (no en)", "lowest"):
            table.add_column(column, justify="right" if column not in ("adapter", "selector") else "left")
        for r in group:
            cells = [_fmt(*r["scores"][lang], factor) if lang in r["scores"] else "-" for lang in langs]
            table.add_row(r["adapter"], r["selector"], str(len(r["seeds"])), *cells,
                          _fmt(*r["avg_xling"], factor), _fmt(*r["lowest"], factor))
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
