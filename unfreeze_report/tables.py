"""Tables of aggregated results, one per task: per language, the average without the train language, the lowest.

Rows are cells (``results.aggregate``); besides model, adapter and selector, every setting that differs
between a task's rows is a column, so two rows never look alike. Names are escaped for Markdown and LaTeX.
"""

from __future__ import annotations

import re
from pathlib import Path

from .results import aggregate, differing, load_results, scale, show


def fmt(pair: tuple[float, float] | None, factor: float) -> str:
    """``mean ± std`` (the std left out when 0, e.g. one seed); ``-`` for no value."""
    if pair is None:
        return "-"
    mean, std = pair
    return f"{mean * factor:.1f}" + (f" ± {std * factor:.1f}" if std else "")


_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~])")
_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def md_escape(text: str) -> str:
    """Text in a Markdown table cell: Markdown's special characters backslash-escaped, no line breaks."""
    return _MARKDOWN.sub(r"\\\1", str(text)).replace("\n", " ")


def tex_escape(text: str) -> str:
    """Text in a LaTeX cell: the ten special characters as LaTeX writes them; ``±`` as ``$\\pm$``."""
    return "".join(_LATEX.get(c, c) for c in str(text).replace("\n", " ")).replace("±", r"$\pm$")


def by_task(rows: list[dict]) -> dict[str, list[dict]]:
    return {task: [r for r in rows if r["task"] == task] for task in dict.fromkeys(r["task"] for r in rows)}


def grid(rows: list[dict]) -> tuple[list[str], list[list[str]], int]:
    """Header, cells and the number of leading name columns of the Table 1 shape for rows of one task."""
    extra = differing([r["settings"] for r in rows])
    langs = list(dict.fromkeys(lang for r in rows for lang in r["scores"]))
    factor = scale(rows[0]["metric"])
    train = rows[0]["train_language"]
    names = ["model", "adapter", "selector", *extra]
    header = [*names, "seeds", *langs, f"avg (no {train})", "lowest"]
    body = [[r["model"], r["adapter"], r["selector"], *(show(r["settings"].get(k)) for k in extra),
             str(len(r["seeds"])), *(fmt(r["scores"].get(lang), factor) for lang in langs),
             fmt(r["avg_xling"], factor), fmt(r["lowest"], factor)] for r in rows]
    return header, body, len(names)


def to_markdown(rows: list[dict]) -> str:
    out = []
    for task, group in by_task(rows).items():
        header, body, _ = grid(group)
        out.append(f"**{md_escape(task)}** ({md_escape(group[0]['metric'])}, mean ± std over seeds)\n")
        out.append("| " + " | ".join(map(md_escape, header)) + " |")
        out.append("|" + "|".join(" --- " for _ in header) + "|")
        out += ["| " + " | ".join(map(md_escape, cells)) + " |" for cells in body]
        out.append("")
    return "\n".join(out)


def to_latex(rows: list[dict]) -> str:
    out = []
    for task, group in by_task(rows).items():
        header, body, names = grid(group)
        out.append("% " + f"{task}: {group[0]['metric']}, mean ± std over seeds".replace("\n", " "))
        out.append("\\begin{tabular}{" + "l" * names + "r" * (len(header) - names) + "}")
        out.append("\\toprule")
        out.append(" & ".join(map(tex_escape, header)) + " \\\\")
        out.append("\\midrule")
        out += [" & ".join(map(tex_escape, cells)) + " \\\\" for cells in body]
        out.append("\\bottomrule")
        out.append("\\end{tabular}")
        out.append("")
    return "\n".join(out)


def to_csv(rows: list[dict]) -> str:
    """The same cells as to_markdown, one CSV line per row, ``task`` and ``metric`` columns first."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    for task, group in by_task(rows).items():
        header, body, _ = grid(group)
        writer.writerow(["task", "metric", *header])
        writer.writerows([task, group[0]["metric"], *cells] for cells in body)
    return out.getvalue()


def print_rows(rows: list[dict], console=None) -> None:
    """The Table 1 shape in the terminal: one row per cell; columns en, other languages, avg, lowest."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    for task, group in by_task(rows).items():
        header, body, names = grid(group)
        table = Table(title=escape(f"{task}: {group[0]['metric']} (mean ± std over seeds)"))
        for i, column in enumerate(header):
            table.add_column(escape(column), justify="left" if i < names else "right")
        for cells in body:
            table.add_row(*map(escape, cells))
        console.print(table)


def print_seed(result: dict, console=None) -> None:
    """One seed's scores per language."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    factor = scale(result["metric"])
    table = Table(title=escape(f"{result['task']} / {result['adapter']} / {result['selector']} / seed "
                               f"{result['seed']}: {result['metric']}"))
    table.add_column("language")
    table.add_column(escape(result["metric"]), justify="right")
    for lang, score in result["scores"].items():
        table.add_row(escape(lang), f"{score * factor:.1f}")
    if result["avg_xling"] is not None:
        train = result.get("train_language") or "en"
        table.add_row(escape(f"avg (no {train})"), f"{result['avg_xling'] * factor:.1f}", style="bold")
        table.add_row(escape(f"lowest ({result['lowest']['lang']})"), f"{result['lowest']['score'] * factor:.1f}")
    console.print(table)


def write_tables(folder: Path, result_files: list[Path], console=None) -> list[dict]:
    """A sweep's table over its finished cells: ``table.md``, ``table.csv`` and ``table.tex`` in ``folder``
    (written whole, all three or none), printed when a console is given; the rows. A run found twice is
    named in a note (printed, and under the Markdown table); two with the same settings and seed but different
    scores keep the newest, and the note names both folders."""
    from .output import write_all

    notes: list[str] = []
    found = load_results([f for f in result_files if Path(f).is_file()], notes=notes, keep_newest=True)
    if not found:
        return []
    rows = aggregate(found)
    from unfreeze_core.rundir import TABLES

    markdown = to_markdown(rows) + "".join(f"\nNote: {line}\n" for line in notes)
    write_all({folder / name: text for name, text in zip(TABLES, (markdown, to_csv(rows), to_latex(rows)))})
    if console is not None:
        print_rows(rows, console)
        for line in notes:
            console.print(f"note: {line}", markup=False)
    return rows
