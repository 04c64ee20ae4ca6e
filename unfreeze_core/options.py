"""Plugin options: a dataclass per plugin class, filled from ``-o key=value`` or a YAML block."""

from __future__ import annotations

import dataclasses
import types
import typing

import yaml

from .errors import UnfreezeError


def _coerce(value, hint, where: str):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except UnfreezeError as exc:
                errors.append(str(exc))
        raise UnfreezeError(errors[0] if errors else f"{where}: bad value {value!r}")
    if isinstance(value, str) and hint is not str:
        value = yaml.safe_load(value) if "," not in value or origin is not list else value.split(",")
    if origin is dict:
        if not isinstance(value, dict):
            raise UnfreezeError(f"{where}: expected a mapping, got {value!r}")
        return value
    if origin is list:
        if isinstance(value, (int, float, str)):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise UnfreezeError(f"{where}: expected a list, got {value!r}")
        (item,) = args or (typing.Any,)
        return [_coerce(v, item, where) for v in value]
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        return str(value)
    elif hint is typing.Any:
        return value
    elif isinstance(value, hint):
        return value
    name = getattr(hint, "__name__", str(hint))
    raise UnfreezeError(f"{where}: expected {name}, got {value!r}")


def parse_options(options_cls: type, raw: dict | None, owner: str):
    """Build ``options_cls`` from raw values; unknown keys and bad values raise one-line errors."""
    raw = dict(raw or {})
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise UnfreezeError(f"{owner}: unknown option {unknown[0]!r} (known options: {known})")
    hints = typing.get_type_hints(options_cls)
    values = {k: _coerce(v, hints[k], f"{owner} option {k!r}") for k, v in raw.items()}
    try:
        return options_cls(**values)
    except (TypeError, ValueError) as exc:
        raise UnfreezeError(f"{owner}: {exc}") from exc


def option_names(options_cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(options_cls)]
