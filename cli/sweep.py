"""``unfreeze sweep GRID.yaml``: every cell of a grid file through a launcher (local, ray, slurm ...)."""

from __future__ import annotations

import json

import click


def _pairs(texts, what: str) -> dict:
    from unfreeze_core.errors import UnfreezeError
    from unfreeze_core.options import yaml_value

    out = {}
    for text in texts:
        if "=" not in text:
            raise UnfreezeError(f"{what} expects key=value, got {text!r}")
        key, value = text.split("=", 1)
        out[key.strip()] = yaml_value(value)  # 1e-3 is a float
    return out


@click.command()
@click.argument("grid_file", type=click.Path())
@click.option("--dry-run", is_flag=True, help="Print every cell with every resolved setting and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: the cells as JSON.")
@click.option("--output-dir", default="runs", show_default=True, help="The sweep folder goes below it.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a setting in every cell (steps=10, task.eval_limit=8); it is part of the cells' configuration.")
@click.option("--launcher", help="local | ray | slurm | ... (default: the grid's launcher, else local).")
@click.option("-l", "launcher_options", multiple=True, metavar="KEY=VALUE", help="Launcher option, e.g. -l partition=gpu.")
@click.option("--parallel", type=int, help="local launcher: cells run at once, each pinned to its share of cores.")
@click.option("--address", help="ray launcher: join this Ray cluster (default: start a local one).")
def sweep(grid_file, dry_run, as_json, output_dir, overrides, launcher, launcher_options, parallel, address):
    """Run every cell (one seed each) of GRID_FILE; finished cells are skipped, checkpointed ones resumed."""
    from rich.console import Console

    from unfreeze_core import sweep as sweeps
    from unfreeze_core.errors import UnfreezeError
    from unfreeze_core.rundir import RunDir
    from unfreeze_report.tables import write_tables

    console = Console()
    result = sweeps.plan(grid_file, output_dir, _pairs(overrides, "--set"))
    options = _pairs(launcher_options, "-l")
    if parallel is not None:
        options["parallel"] = parallel
    if address is not None:
        options["address"] = address
    name, options = sweeps.launcher_settings(result.grid, launcher, options)
    chosen = sweeps.make_launcher(name, options)  # the launcher's name and options are checked by a dry run too
    if dry_run:
        cells = sweeps.describe(result)
        if as_json:
            click.echo(json.dumps(cells, indent=1))
        else:
            _print_cells(result, cells, console, name, options)
        return
    tracker = sweeps.run(result, chosen, console)
    write_tables(result.folder, [RunDir(cell.run_dir).results for cell in result.cells], console)
    console.print(f"sweep folder: {result.folder}")
    error = sweeps.summary_error(tracker)
    if error:
        raise UnfreezeError(error)


def _print_cells(result, cells, console, launcher: str, options: dict) -> None:
    """One block per cell: its id, how it starts, and each setting that is not a RunConfig default; the head
    names the launcher that would run them (``--launcher`` and ``-l`` over the grid's block)."""
    from unfreeze_core.config import RunConfig

    defaults = RunConfig().as_dict()
    grid = result.grid
    console.print(f"[bold]{grid.name}[/]: {len(cells)} cells from {grid.path}; resources {grid.resources}; "
                  f"launcher {launcher} {options or ''}".rstrip(), highlight=False, soft_wrap=True)
    for cell in cells:
        settings = cell["settings"]
        shown = {k: v for k, v in settings.items() if k != "options" and (v != defaults.get(k) or k in
                 ("task", "model", "adapter", "selector", "k", "lr", "lr_schedule", "batch_size", "seeds"))}
        options = {kind: block for kind, block in settings["options"].items() if block}
        console.print(f"[bold]{cell['cell']}[/] ({cell['start']})", highlight=False)
        console.print("  " + " ".join(f"{k}={v}" for k, v in shown.items()), highlight=False, soft_wrap=True)
        if options:
            console.print("  options: " + json.dumps(options), highlight=False, soft_wrap=True)
