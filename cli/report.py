"""``unfreeze report``: many runs -> the paper's Table 1 shape (mean ± std over seeds)."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "latex"]), default="table",
              help="table (terminal), json, markdown or latex (booktabs) for a paper.")
def report(paths, fmt):
    """Aggregate results.json files under PATHS (default: runs/)."""
    from unfreeze_core.errors import UnfreezeError
    from unfreeze_core.results import aggregate, load_results

    skipped: list[str] = []
    results = load_results(paths or ["runs"], skipped)
    for note in skipped:
        click.echo(f"skipped {note}", err=True)
    if not results:
        usable = "usable " if skipped else ""
        raise UnfreezeError(f"no {usable}results.json under {', '.join(paths or ['runs'])}")
    rows = aggregate(results)
    from unfreeze_core import tables

    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif fmt == "markdown":
        click.echo(tables.to_markdown(rows))
    elif fmt == "latex":
        click.echo(tables.to_latex(rows))
    else:
        tables.print_rows(rows)
