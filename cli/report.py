"""``unfreeze report``: many runs -> the paper's Table 1 shape (mean ± std over seeds)."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the aggregated rows as JSON.")
def report(paths, as_json):
    """Aggregate results.json files under PATHS (default: runs/)."""
    from unfreeze_core.errors import UnfreezeError
    from unfreeze_core.results import aggregate, load_results

    results = load_results(paths or ["runs"])
    if not results:
        raise UnfreezeError(f"no results.json under {', '.join(paths or ['runs'])}")
    rows = aggregate(results)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from unfreeze_core.tables import print_rows

    print_rows(rows)
