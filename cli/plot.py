"""``unfreeze plot``: run directories -> PNG figures (loss, tr(F), schedule, results)."""

from __future__ import annotations

import click


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--out", "out_dir", default="plots", show_default=True, type=click.Path(),
              help="Folder for the PNG files.")
@click.option("--smooth", default=1, show_default=True, type=int,
              help="Moving-average window (in tr(F) measurements) for the tr(F) curves; 1 = none.")
def plot(paths, out_dir, smooth):
    """Figures of the runs under PATHS (run directories or group folders; default: runs/).

    Writes loss.png, validation.png, fisher.png, fisher_units.png, schedule.png and results.png to --out
    (all of them or none) and prints their paths; figures without data (no tr(F) tracked, no results.json)
    are skipped with a note, and so are run folders whose files cannot be read. Needs matplotlib
    (pip install 'unfreeze[plot]').
    """
    from unfreeze_report.plots import plot_all

    written, notes = plot_all(paths or ["runs"], out_dir, smooth=smooth)
    for note in notes:
        click.echo(note, err=True)
    for path in written:
        click.echo(str(path))
