"""Entry point: ``unfreeze run | plugins | install | uninstall | report | plot | world``."""

from __future__ import annotations

import os
import sys

import click

from unfreeze_core.errors import UnfreezeError


DEBUG_ENV = "UNFREEZE_DEBUG"


class Group(click.Group):
    """Turns UnfreezeError into one line on stderr and the error's exit code; Ctrl-C into exit 130; anything
    unforeseen into one line too (a bug to report), with the traceback when UNFREEZE_DEBUG=1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UnfreezeError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            from unfreeze_core.plugins import describe_unexpected

            click.echo(f"Error: {describe_unexpected(exc)}", err=True)  # the failing plugin, or a bug of ours
            sys.exit(1)


@click.group(cls=Group)
@click.version_option(package_name="unfreeze")
def cli():
    """Scheduled unfreezing of adapters for cross-lingual transfer."""


def _add_commands():
    from .install import install, uninstall
    from .lang_adapter import lang_adapter
    from .plot import plot
    from .plugins_cmd import plugins
    from .report import report
    from .run import run
    from .sweep import sweep

    for command in (run, plugins, install, uninstall, report, lang_adapter, plot, sweep):
        cli.add_command(command)
    try:
        from .world import world
    except ImportError:  # the embedded world's commands are optional while it is being built
        return
    cli.add_command(world)


_add_commands()
