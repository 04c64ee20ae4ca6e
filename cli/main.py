"""Entry point: ``unfreeze run | plugins | report | plot | world``."""

from __future__ import annotations

import sys

import click

from unfreeze_core.errors import UnfreezeError


class Group(click.Group):
    """Turns UnfreezeError into one line on stderr and the error's exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UnfreezeError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=Group)
@click.version_option(package_name="unfreeze")
def cli():
    """Scheduled unfreezing of adapters for cross-lingual transfer."""


def _add_commands():
    from .lang_adapter import lang_adapter
    from .plot import plot
    from .plugins_cmd import plugins
    from .report import report
    from .run import run
    from .sweep import sweep

    for command in (run, plugins, report, lang_adapter, plot, sweep):
        cli.add_command(command)
    try:
        from .world import world
    except ImportError:  # the embedded world's commands are optional while it is being built
        return
    cli.add_command(world)


_add_commands()
