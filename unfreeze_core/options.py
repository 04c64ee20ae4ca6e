"""Plugin options: a dataclass per plugin class, filled from ``-o key=value`` or a YAML block."""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing

import yaml

from .errors import UnfreezeError

EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")
"""Floats YAML 1.2 reads and YAML 1.1 (PyYAML) leaves as text: ``1e-3``, ``-1E5``, ``2.5e3`` (1.1 wants a dot
and a signed exponent)."""


def _yaml12_floats(loader: type) -> type:
    """``loader`` reading ``1e-3`` as a float, as every user writes it (and YAML 1.2 reads it)."""
    cls = type(f"Unfreeze{loader.__name__}", (loader,), {})
    cls.add_implicit_resolver("tag:yaml.org,2002:float", EXPONENT_FLOAT, list("-+0123456789."))
    return cls


YamlLoader = _yaml12_floats(getattr(yaml, "CSafeLoader", yaml.SafeLoader))
"""The safe loader of every YAML unfreeze reads (files, grid values, ``-o key=value``): ``1e-3`` is a float."""


def yaml_value(text: str):
    """One ``-o`` value or grid value as YAML reads it (``1e-1`` a float, ``8`` an int, ``a,b`` text)."""
    return yaml.load(text, Loader=YamlLoader)  # noqa: S506 - a safe loader (SafeLoader's constructor)


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
        value = yaml_value(value) if "," not in value or origin is not list else value.split(",")
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


MAX_OPTION_INT = 2**63 - 1
"""The largest integer a plugin option may hold (a C ``long long``, what torch, numpy and islice take); a
plugin checks its own tighter bounds in ``__post_init__``."""


def _check_bounds(value, where: str) -> None:
    """Every number in an option's value finite and within +-``MAX_OPTION_INT``."""
    import math

    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_OPTION_INT:
            from .limits import at_most

            at_most(where, value, MAX_OPTION_INT, low=-MAX_OPTION_INT)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise UnfreezeError(f"{where} must be a finite number, got {value}")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_bounds(item, where)
    elif isinstance(value, dict):
        for item in value.values():
            _check_bounds(item, where)


def parse_options(options_cls: type, raw: dict | None, owner: str, bounded: bool = True):
    """Build ``options_cls`` from raw values; unknown keys and bad values raise one-line errors. ``bounded``:
    every number finite and within a C long long (``RunConfig`` checks its own, with its flags' names)."""
    raw = dict(raw or {})
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise UnfreezeError(f"{owner}: unknown option {unknown[0]!r} (known options: {known})")
    hints = _hints(options_cls)
    values = {k: _coerce(v, hints[k], f"{owner} option {k!r}") for k, v in raw.items()}
    if bounded:
        for key, value in values.items():
            _check_bounds(value, f"{owner}: option {key!r}")
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
