"""``unfreeze install`` / ``unfreeze uninstall``: pip, run by the Python that runs unfreeze.

Plugins must be installed into unfreeze's own environment to be found (``llm install`` does the same);
``sys.executable -m pip`` makes sure of that whatever ``pip`` is first on PATH.
"""

from __future__ import annotations

import subprocess
import sys

import click

from unfreeze_core.errors import UnfreezeError


def _pip(*args: str) -> None:
    import importlib.util

    if importlib.util.find_spec("pip") is None:
        raise UnfreezeError(f"pip is not available to {sys.executable} (python -m ensurepip installs it)")
    code = subprocess.run([sys.executable, "-m", "pip", *args]).returncode
    if code:
        raise UnfreezeError(f"pip {args[0]} failed (exit code {code}); its messages are above")
    from unfreeze_core.plugins import reset_plugins

    reset_plugins()


@click.command()
@click.argument("packages", nargs=-1)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade the packages to their newest versions.")
@click.option("-e", "--editable", metavar="PATH", help="Install a project in editable mode from this folder.")
@click.option("--force-reinstall", is_flag=True, help="Reinstall the packages even when up to date.")
@click.option("--no-cache-dir", is_flag=True, help="Do not use pip's cache.")
def install(packages, upgrade, editable, force_reinstall, no_cache_dir):
    """Install plugin packages into unfreeze's own environment (PACKAGE: a name, a folder, a wheel)."""
    if not packages and not editable:
        raise click.UsageError("give at least one package (or -e PATH)")
    args = ["install", *packages]
    if editable:
        args += ["-e", editable]
    args += [flag for flag, on in (("--upgrade", upgrade), ("--force-reinstall", force_reinstall),
                                   ("--no-cache-dir", no_cache_dir)) if on]
    _pip(*args)


@click.command()
@click.argument("packages", nargs=-1, required=True)
def uninstall(packages):
    """Uninstall plugin packages (distribution names, as `unfreeze plugins` shows them) from unfreeze's environment."""
    if "unfreeze" in {p.lower() for p in packages}:
        raise UnfreezeError("refusing to uninstall unfreeze itself; use pip directly if you mean it")
    _pip("uninstall", "-y", *packages)
