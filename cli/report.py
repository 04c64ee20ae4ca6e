"""``unfreeze report``: many runs -> the paper's Table 1 shape (mean ± std over seeds), one row per cell."""

from __future__ import annotations

import json

import click

FORMATS = ("table", "json", "markdown", "csv", "latex")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              help="table (terminal), json, markdown, csv or latex (booktabs) for a paper.")
@click.option("--layout", type=click.Choice(["cells", "paper"]), default="cells", show_default=True,
              help="cells: one table per task, a row per cell, a column per language; paper: Table 1 "
                   "(tasks as column groups: train language, avg without it, lowest; models x selectors as "
                   "rows; best in bold; a dagger where a paired t-test over seeds against standard gives p < 0.05).")
@click.option("--out", "out_file", type=click.Path(),
              help="Write the table to this file (whole or not at all) instead of printing it; the table format "
                   "is then written as Markdown.")
@click.option("--relative-to", "relative_to", metavar="ADAPTER",
              help="Figure 2: each row's average over the target languages as a per cent of the ADAPTER (e.g. full) "
                   "standard row of the same task and model (unfreeze_report/relative.py).")
@click.option("--keep-newest", is_flag=True,
              help="When two runs have the same settings and seed but different scores, keep the newest (named "
                   "in a note) instead of refusing.")
def report(paths, fmt, layout, out_file, relative_to, keep_newest):
    """Aggregate results.json files under PATHS (default: runs/).

    Runs are grouped by their identity (every resolved setting and plugin option, plugin versions, data and
    model hashes; the settings that differ are shown as columns); a run found twice (same identity and seed
    in two folders, same scores) counts once. Two runs with the same identity and seed but different scores
    are refused, naming both folders newest first (--keep-newest keeps the newest). Folders whose results
    cannot be read are skipped and named.
    """
    from pathlib import Path

    from unfreeze_core.errors import UnfreezeError
    from unfreeze_report import paper, tables
    from unfreeze_report.results import aggregate, load_results

    roots = paths or ["runs"]
    skipped: list[str] = []
    notes: list[str] = []
    results = load_results(roots, skipped, notes, keep_newest=keep_newest)
    for line in skipped:
        click.echo(f"skipped {line}", err=True)
    for line in notes:
        click.echo(line, err=True)
    if not results:
        usable = "usable " if skipped else ""
        raise UnfreezeError(f"no {usable}results.json under {', '.join(map(str, roots))}")
    rows = aggregate(results)
    module = paper if layout == "paper" else tables
    if relative_to is not None:
        text = relative_text(rows, relative_to, layout, fmt)
    elif fmt == "table" and out_file is None:
        (paper.print_table if layout == "paper" else tables.print_rows)(rows)
        return
    elif fmt == "json":
        text = paper.to_json(rows) if layout == "paper" else json.dumps(rows, indent=2)
    else:
        text = {"table": module.to_markdown, "markdown": module.to_markdown, "csv": module.to_csv,
                "latex": module.to_latex}[fmt](rows)
    if out_file is None:
        click.echo(text)
        return
    from unfreeze_report.output import write_all, writable_folder

    path = Path(out_file)
    if path.is_dir():
        raise UnfreezeError(f"--out {path} is a folder: give a file name")
    writable_folder(path.parent if str(path.parent) else Path("."), "--out")
    write_all({path: text if text.endswith("\n") else text + "\n"})
    click.echo(str(path))


def relative_text(rows, adapter: str, layout: str, fmt: str) -> str:
    """``--relative-to``: the rows as per cent of the ADAPTER standard row (``unfreeze_report.relative``)."""
    from unfreeze_core.errors import UnfreezeError
    from unfreeze_report import relative

    if layout == "paper":
        raise UnfreezeError("--relative-to is a layout of its own: leave out --layout paper")
    if not any(r["adapter"] == adapter for r in rows):
        raise UnfreezeError(f"--relative-to {adapter}: no run of the {adapter!r} backend among the results "
                            f"(backends there: {', '.join(sorted({r['adapter'] for r in rows}))})")
    return relative.FORMATTERS[fmt](relative.relative_rows(rows, adapter))
