"""Entry point: ``unfreeze run | plugins | install | uninstall | report | plot | world``."""

from __future__ import annotations

import os
import sys

from unfreeze_core import signals

signals.install()  # first: a SIGINT/SIGTERM from here on ends any command with one line and 130/143

import click  # noqa: E402

from unfreeze_core.errors import UnfreezeError, first_line  # noqa: E402


DEBUG_ENV = "UNFREEZE_DEBUG"


class Group(click.Group):
    """Turns UnfreezeError into one line on stderr and the error's exit code; Ctrl-C into exit 130; anything
    unforeseen into one line too (a bug to report), with the traceback when UNFREEZE_DEBUG=1."""

    def invoke(self, ctx):
        try:
            with signals.guard():
                return super().invoke(ctx)
        except UnfreezeError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            click.echo(f"Error: interrupted by {signals.name(getattr(exc, 'signum', 2))}", err=True)
            sys.exit(signals.exit_code(exc))
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if _out_of_memory(exc):
                click.echo(f"Error: out of memory ({type(exc).__name__}: {first_line(exc, '')}): the machine refused "
                           f"memory that unfreeze asked for (not a bug of unfreeze); free some or raise the limit "
                           f"(ulimit -v), and run it again", err=True)
                sys.exit(1)
            refused = _write_refused(exc)
            if refused:
                click.echo(f"Error: {refused}", err=True)
                sys.exit(1)
            if os.environ.get(DEBUG_ENV):
                raise
            from unfreeze_core.plugins import describe_unexpected

            click.echo(f"Error: {describe_unexpected(exc)}", err=True)  # the failing plugin, or a bug of ours
            sys.exit(1)


    def __call__(self, *args, **kwargs):
        """The ``unfreeze`` process itself (``CliRunner`` calls ``main``, not this): the command, then the end of the
        process with our signal handlers still in place (``signals.exit_process``), so a signal in the last
        second, while Python would shut down, is still 130/143 and one line."""
        try:
            self.main(*args, **kwargs)
            code = 0
        except SystemExit as exc:
            code = exc.code
        signals.exit_process(code)


def _write_refused(exc: BaseException) -> str | None:
    """A write the machine refused (full or read-only disk, quota, file-size limit) that no writer of unfreeze
    named: one line with the file and the machine's reason, not "a bug"."""
    import errno

    from unfreeze_core.rundir import write_reason

    codes = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)
    if isinstance(exc, OSError) and exc.errno in codes:
        return f"could not write {exc.filename or 'a file'}: {exc.strerror}"
    reason = None if isinstance(exc, OSError) else write_reason(exc)
    if reason and any(word in reason.lower() for word in ("space", "read-only", "quota", "too large")):
        return f"could not write a file: {reason}"
    return None


def _out_of_memory(exc: BaseException) -> bool:
    """A fault of the machine, not of unfreeze: no memory for an object, a shared library or a thread."""
    import errno

    text = str(exc).lower()
    return isinstance(exc, MemoryError) or getattr(exc, "errno", None) == errno.ENOMEM or any(
        sign in text for sign in ("failed to map segment", "cannot allocate memory", "can't start new thread"))


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
