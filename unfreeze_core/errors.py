"""Errors the CLI turns into one line on stderr and a non-zero exit code."""

from __future__ import annotations


class UnfreezeError(Exception):
    """Bad input or configuration: shown to the user as one line (exit code 1)."""

    exit_code = 1


class UnknownNameError(UnfreezeError):
    """An unknown selector, backend, estimator or task name (exit code 2)."""

    exit_code = 2


class DuplicateNameError(UnfreezeError):
    """Two plugins registered the same name."""


def plugin_error(provenance: dict, kind: str, exc: Exception) -> UnfreezeError:
    """A plugin's ValueError or UnfreezeError as one line naming it: ``selector 'surgical' (plugin selectors): ...``.
    ``provenance`` is ``Components.provenance`` (kind -> name, plugin, version)."""
    info = provenance.get(kind, {})
    return UnfreezeError(f"{kind} {info.get('name', '?')!r} (plugin {info.get('plugin', '?')}): {exc}")


def first_line(exc: BaseException | str, default: str | None = None) -> str:
    """The first non-empty line of an exception's message (or of a string), stripped; ``default``, or the
    exception's type name, when there is none (``""`` for a string with no ``default``)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    if default is not None:
        return default
    return type(exc).__name__ if isinstance(exc, BaseException) else ""
