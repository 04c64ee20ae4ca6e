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


PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


@click.command(context_settings=PASS_THROUGH)
@click.argument("packages", nargs=-1, type=click.UNPROCESSED)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade the packages to their newest versions.")
@click.option("-e", "--editable", metavar="PATH", help="Install a project in editable mode from this folder.")
@click.option("--force-reinstall", is_flag=True, help="Reinstall the packages even when up to date.")
@click.option("--no-cache-dir", is_flag=True, help="Do not use pip's cache.")
def install(packages, upgrade, editable, force_reinstall, no_cache_dir):
    """Install plugin packages into unfreeze's own environment (PACKAGE: a name, a folder, a wheel).

    Any other pip install flag is passed to pip as given: `unfreeze install --no-deps ./my-plugin`,
    `unfreeze install -c constraints.txt unfreeze-peft`."""
    if not [p for p in packages if not p.startswith("-")] and not editable:
        raise click.UsageError("give at least one package (or -e PATH)")
    args = ["install", *packages]
    if editable:
        args += ["-e", editable]
    args += [flag for flag, on in (("--upgrade", upgrade), ("--force-reinstall", force_reinstall),
                                   ("--no-cache-dir", no_cache_dir)) if on]
    _pip(*args)


def _not_a_distribution(name: str) -> str | None:
    """Why ``name`` cannot be uninstalled: a plugin or registered name (naming its distribution), or nothing
    installed by that name; None for an installed distribution."""
    from importlib import metadata

    try:
        metadata.distribution(name)
        return None
    except metadata.PackageNotFoundError:
        pass
    from unfreeze_core.plugins import get_plugins
    from unfreeze_core.registry import SINGULAR

    loaded = get_plugins()
    for row in loaded.info():
        owned = [(kind, n) for kind, names in row.registers.items() for n in names if n == name]
        if row.name == name or owned:
            what = f"the {SINGULAR.get(owned[0][0], owned[0][0])} {name!r} of plugin {row.name!r}" if owned \
                else f"plugin {name!r}"
            if row.distribution:
                return f"{what} is not a distribution: unfreeze uninstall {row.distribution}"
            return f"{what} is not a distribution (it is not installed from one: nothing to uninstall)"
    return f"no distribution {name!r} is installed (`unfreeze plugins` lists each plugin's distribution)"


@click.command()
@click.argument("packages", nargs=-1, required=True)
def uninstall(packages):
    """Uninstall plugin packages (distribution names, as `unfreeze plugins` shows them) from unfreeze's environment."""
    if "unfreeze" in {p.lower() for p in packages}:
        raise UnfreezeError("refusing to uninstall unfreeze itself; use pip directly if you mean it")
    for name in packages:
        reason = _not_a_distribution(name)
        if reason:
            raise UnfreezeError(reason)
    _pip("uninstall", "-y", *packages)
