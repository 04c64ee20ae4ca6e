"""``unfreeze plugins``: what is installed, what each plugin registers, what failed to load."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per plugin.")
def plugins(as_json):
    """List installed plugins, their hooks and what they register."""
    from unfreeze_core.plugins import get_plugins

    rows = get_plugins().info()
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="unfreeze plugins")
    for column in ("plugin", "version", "hooks", "registers", "error"):
        table.add_column(column)
    for r in rows:
        registers = "\n".join(f"{kind}: {', '.join(names)}" for kind, names in r.registers.items() if names)
        table.add_row(r.name, r.version or "-", "\n".join(r.hooks), registers, r.error or "")
    Console().print(table)
