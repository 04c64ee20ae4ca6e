"""Plugin options: a dataclass per plugin class, filled from ``-o key=value`` or a YAML block."""

from __future__ import annotations

import dataclasses
import functools
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


@functools.lru_cache(maxsize=None)
def _hints(options_cls: type) -> dict:
    """An Options class's annotations, evaluated once (a 10,000-cell grid resolves the same classes again and again)."""
    return typing.get_type_hints(options_cls)


def parse_options(options_cls: type, raw: dict | None, owner: str):
    """Build ``options_cls`` from raw values; unknown keys and bad values raise one-line errors."""
    raw = dict(raw or {})
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise UnfreezeError(f"{owner}: unknown option {unknown[0]!r} (known options: {known})")
    hints = _hints(options_cls)
    values = {k: _coerce(v, hints[k], f"{owner} option {k!r}") for k, v in raw.items()}
    try:
        return options_cls(**values)
    except (TypeError, ValueError) as exc:
        raise UnfreezeError(f"{owner}: {exc}") from exc


def option_names(options_cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(options_cls)]


def type_name(hint) -> str:
    """``int``, ``list[int] | None``: an annotation as a user writes it."""
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    return str(hint).replace("typing.", "").replace("NoneType", "None")


def _attribute_docs(options_cls: type) -> dict[str, str]:
    """Docstrings written under fields (``x: int = 1`` then ``\"\"\"...\"\"\"``), read from the source of the
    class and of every class it inherits fields from (a subclass's own docstring for a field wins)."""
    docs: dict[str, str] = {}
    for cls in reversed(options_cls.__mro__):
        if cls is not object:
            docs.update(_own_attribute_docs(cls))
    return docs


def _own_attribute_docs(cls: type) -> dict[str, str]:
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    docs, body = {}, tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def describe_options(options_cls: type) -> list[dict]:
    """One {"name", "type", "default", "doc"} per option, in declaration order (``unfreeze plugins show``)."""
    hints = typing.get_type_hints(options_cls)
    docs = _attribute_docs(options_cls)
    rows = []
    for f in dataclasses.fields(options_cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        rows.append({"name": f.name, "type": type_name(hints.get(f.name, typing.Any)), "default": default,
                     "doc": docs.get(f.name, "")})
    return rows
