"""``unfreeze plugins``: what is installed, from which distribution, what each plugin registers, its
options, what failed to load and which plugin made loading slow. Plain text that fits 80 columns."""

from __future__ import annotations

import json
import shutil
import textwrap

import click

from unfreeze_core.errors import first_line
from unfreeze_core.registry import SINGULAR

SLOW_SECONDS = 0.5
"""A plugin whose import takes longer is named as what made the listing slow."""


def _width() -> int:
    return max(40, min(80, shutil.get_terminal_size((80, 24)).columns))


def _wrap(text: str, initial: str = "", subsequent: str = "") -> list[str]:
    """``text`` wrapped to the width at word boundaries only (names are never cut)."""
    return textwrap.wrap(text, _width(), initial_indent=initial, subsequent_indent=subsequent,
                         break_long_words=False, break_on_hyphens=False)


def _field(label: str, text: str, indent: int = 2) -> list[str]:
    """``label: text`` wrapped at word boundaries (names are never cut), continuation lines aligned."""
    head = " " * indent + f"{label}: "
    return _wrap(text, head, " " * len(head)) or [head.rstrip()]


def _heading(row) -> str:
    parts = [row.name]
    if row.distribution:
        parts.append(f"{row.distribution} {row.version or ''}".strip())
    elif row.version:
        parts.append(row.version)
    if row.import_seconds is not None:
        parts.append(f"import {row.import_seconds:.2f} s")
    return " · ".join(parts)


def _options_lines(cls, indent: int) -> list[str]:
    from unfreeze_core.options import describe_options

    rows = describe_options(cls.Options)
    if not rows:
        return [" " * indent + "(no options)"]
    lines = []
    for r in rows:
        lines += _wrap(f"{r['name']}: {r['type']} = {r['default']!r}", " " * indent, " " * (indent + 4))
        if r["doc"]:
            lines += _wrap(r["doc"], " " * (indent + 4), " " * (indent + 4))
    return lines


def _class_lines(kind: str, name: str, cls, indent: int = 2) -> list[str]:
    doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())  # the first paragraph
    head = " " * indent + f"{SINGULAR[kind]} {name}" + (f": {doc}" if doc else "")
    return _wrap(head, subsequent=" " * (indent + 4)) + _options_lines(cls, indent + 2)


def _plugin_lines(row, registries, options: bool) -> list[str]:
    lines = [_heading(row)]
    for kind, names in row.registers.items():
        if names:
            lines += _field(SINGULAR[kind] + "s", ", ".join(names))
    if row.hooks:
        lines += _field("hooks", ", ".join(row.hooks))
    if row.error:
        lines += _field("error", first_line(row.error))
    if options:
        for kind, names in row.registers.items():
            for name in names:
                lines += _class_lines(kind, name, registries[kind].entries[name], indent=2)
    return lines


def _slow_lines(rows) -> list[str]:
    timed = [r for r in rows if r.import_seconds is not None]
    total = sum(r.import_seconds for r in timed)
    lines = [f"plugins imported in {total:.2f} s"]
    for r in sorted(timed, key=lambda r: -r.import_seconds):
        if r.import_seconds < SLOW_SECONDS:
            break
        why = f": imports {', '.join(r.heavy_imports)} at module top" if r.heavy_imports else ""
        lines += textwrap.wrap(f"slow: {r.name!r} ({r.distribution or 'in-process'}) took {r.import_seconds:.1f} s"
                               f"{why}; move heavy imports inside functions (docs/plugins.md, \"Fast listing\")",
                               _width(), subsequent_indent="  ", break_long_words=False)
    return lines


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per plugin.")
@click.option("--options", "with_options", is_flag=True, help="Also list every registered class's options.")
@click.pass_context
def plugins(ctx, as_json, with_options):
    """List installed plugins: distribution, what they register, hooks, errors, import time.

    `unfreeze plugins show NAME` shows one plugin (or registered name) with its options."""
    if ctx.invoked_subcommand is not None:
        return
    from unfreeze_core.plugins import get_plugins

    loaded = get_plugins()
    registries = loaded.registries(strict=False)
    rows = loaded.info(registries)
    if as_json:
        data = [r.as_dict() for r in rows]
        if with_options:
            from unfreeze_core.options import describe_options

            for item, r in zip(data, rows):
                item["options"] = {kind: {name: describe_options(registries[kind].entries[name].Options)
                                          for name in names} for kind, names in r.registers.items() if names}
        click.echo(json.dumps(data, indent=2, default=repr))
        return
    out = []
    for r in rows:
        out += _plugin_lines(r, registries, with_options) + [""]
    out += _slow_lines(rows)
    out += ["options: `unfreeze plugins show NAME` or `unfreeze plugins --options`",
            "remove a plugin: `unfreeze uninstall DISTRIBUTION`"]
    click.echo("\n".join(out))


@plugins.command()
@click.argument("name")
def show(name):
    """One plugin (entry-point or distribution name) or one registered name, with options, types, defaults."""
    from unfreeze_core.errors import UnknownNameError
    from unfreeze_core.plugins import get_plugins

    loaded = get_plugins()
    registries = loaded.registries(strict=False)
    rows = loaded.info(registries)
    out = []
    for r in rows:
        if name in (r.name, r.distribution):
            out += _plugin_lines(r, registries, options=True) + [""]
    for kind, registry in registries.items():
        if name in registry.entries and not any(name in (r.name, r.distribution) and name in r.registers[kind]
                                                for r in rows):
            out += [f"{SINGULAR[kind]} {name!r} from plugin {registry.owners[name]!r}"]
            out += _class_lines(kind, name, registry.entries[name], indent=2) + [""]
    if not out:
        known = ", ".join(r.name for r in rows) or "none"
        raise UnknownNameError(f"no plugin or registered name {name!r} (plugins: {known})")
    click.echo("\n".join(out).rstrip())


@plugins.command()
@click.argument("kind", type=click.Choice(["selector", "backend", "estimator", "task", "launcher"]))
@click.argument("name")
@click.option("--dir", "directory", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Where the package folder (unfreeze-NAME) is written.")
def new(kind, name, directory):
    """Write a plugin package of KIND registered as NAME: pyproject, module, and a test calling the
    conformance check of its kind (unfreeze_core.testing); it passes as written."""
    from .plugin_template import write_template

    root = write_template(kind, name, directory)
    click.echo(f"wrote {root}\n  test it:    python -m pytest {root / 'tests'}\n"
               f"  install it: unfreeze install -e {root}")
