"""One loader for every source: a local folder in the hub's schema, the embedded world, or the hub.

A local folder (``--data-dir``, and the embedded world) holds ``<lang>/<split>.jsonl`` (or
``.json``/``.parquet``), one record per line in the hub dataset's own schema.

Every split is checked whole before it is used (columns present, rows present, every value the task
reads of the right type), and the first bad value is one line naming the split, its row and, for a JSON
file, the file and line. A JSON file is read a second time for that, with Python's own parser, because
the Arrow table ``datasets`` builds from it is not faithful to the file: one odd line changes how a
whole column is read (a label ``1.5`` turns every label into a float, a label ``"1"`` among numbers is
read as the number 1).
"""

from __future__ import annotations

import codecs
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..errors import UnfreezeError, first_line

SUFFIXES = (".jsonl", ".json", ".parquet")

Check = Callable[[str, object], "str | None"]
"""A value check: ``check(column, value)`` is None when the value is fine, else the rest of the message
after ``row N`` (`` has label = '1' (text), expected an integer 0..2``)."""


@dataclass(frozen=True)
class HubSplit:
    """Where one (language, split) lives on the hub; ``transform`` maps its records to our schema."""

    repo: str
    split: str
    config: str | None = None
    revision: str | None = None
    transform: Callable | None = None


# -- value checks -------------------------------------------------------------------------------------------

def _shown(value) -> str:
    return f"{value!r} (text)" if isinstance(value, str) else repr(value)


def text(name: str, value) -> str | None:
    """Text (not null, not a number, not a list)."""
    return None if isinstance(value, str) else f" has {name} = {value!r}, expected text"


def label(num: int) -> Check:
    """An integer class in 0..num-1 (not -1, not text such as "1", not 1.0, not true, not null)."""
    def check(name, value):
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < num:
            return None
        return f" has {name} = {_shown(value)}, expected an integer 0..{num - 1}"
    return check


def choice(allowed) -> Check:
    """One of ``allowed`` (COPA's question: cause or effect)."""
    def check(name, value):
        return None if value in allowed else f": {name} {value!r} is not one of {', '.join(allowed)}"
    return check


def answers(name: str, value) -> str | None:
    """SQuAD answers: {text: [str], answer_start: [int >= 0]}, at least one, of equal length."""
    texts = value.get("text") if isinstance(value, dict) else None
    starts = value.get("answer_start") if isinstance(value, dict) else None
    if isinstance(texts, list) and isinstance(starts, list) and 0 < len(texts) == len(starts) \
            and all(isinstance(t, str) for t in texts) \
            and all(isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in starts):
        return None
    return (f" has {name} = {value!r}, expected {{text: [strings], answer_start: [offsets >= 0]}} "
            "of equal length, with at least one answer")


def unique(check: Check) -> Check:
    """``check``, and no value twice in a split (a question id given twice would be scored once). The
    check is called once per row, in row order; make a new one for each split."""
    first: dict = {}
    rows = itertools.count()

    def checked(name, value):
        row = next(rows)
        problem = check(name, value)
        if problem:
            return problem
        if value in first:
            return f" has {name} = {value!r} again (row {first[value]} has it too): each {name} must be unique"
        first[value] = row
        return None
    return checked


# -- local files --------------------------------------------------------------------------------------------

def local_file(folder: str | Path, lang: str, split: str) -> Path | None:
    for suffix in SUFFIXES:
        path = Path(folder) / lang / f"{split}{suffix}"
        if path.is_file():
            return path
    return None


def local_languages(folder: str | Path, split: str) -> list[str]:
    """Languages of a local folder that have ``split``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UnfreezeError(f"data folder not found: {folder}")
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and local_file(folder, p.name, split))


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _no_duplicate_keys(pairs):
    record = {}
    for key, value in pairs:
        if key in record:  # Python would keep the last value, pyarrow refuses the row
            raise ValueError(f"key {key!r} given twice")
        record[key] = value
    return record


def _parse(raw: bytes, what: str, where: str):
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant, object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError as exc:
        raise UnfreezeError(f"{what}: {where} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        at = f"column {exc.colno}" if where.startswith("line ") else f"line {exc.lineno}, column {exc.colno}"
        raise UnfreezeError(f"{what}: {where} is not valid JSON ({exc.msg} at {at})") from None
    except ValueError as exc:  # NaN, Infinity, a key twice
        raise UnfreezeError(f"{what}: {where} is not valid JSON ({exc})") from None
    except RecursionError:
        raise UnfreezeError(f"{what}: {where} is nested too deeply to be a record") from None


def json_records(path: Path, what: str) -> Iterator[tuple[str, object]]:
    """(where, record) for every record of a JSON file as ``datasets`` splits it: a file that starts with
    ``[`` is one array of records, anything else JSON Lines (blank lines skipped, a leading BOM dropped).
    ``where`` is ``line N of PATH`` (``item N of PATH`` in an array); a line that does not parse is one
    line naming it."""
    with open(path, "rb") as f:
        start = len(codecs.BOM_UTF8) if f.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8 else 0
        f.seek(start)
        if f.read(1) == b"[":
            f.seek(start)
            for i, item in enumerate(_parse(f.read(), what, str(path))):
                yield f"item {i} of {path}", item
            return
        f.seek(start)
        for number, raw in enumerate(f, 1):
            if raw.strip():
                yield f"line {number} of {path}", _parse(raw.rstrip(b"\r\n"), what, f"line {number} of {path}")


def _json_type(value) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def check_json(path: Path, what: str, columns, checks: dict[str, Check]) -> int:
    """Every record of a JSON file is an object with ``columns`` whose values pass ``checks``; the rows."""
    rows = 0
    for where, record in json_records(path, what):
        if not isinstance(record, dict):
            raise UnfreezeError(f"{what}: {where} is a JSON {_json_type(record)}, not an object "
                                "(one record per line)")
        for name in columns:
            if name not in record:
                raise UnfreezeError(f"{what}: missing column {name!r} in row {rows} "
                                    f"(has: {', '.join(record) or 'nothing'}; {where})")
        for name, check in checks.items():
            problem = check(name, record[name])
            if problem:
                raise UnfreezeError(f"{what}: row {rows}{problem} ({where})")
        rows += 1
    return rows


def parquet_rows(path: Path, what: str) -> int:
    """The rows a parquet file's footer declares; a file that is not parquet is one line."""
    import pyarrow.parquet as pq

    if path.stat().st_size == 0:
        return 0
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception as exc:  # ArrowInvalid, OSError: truncated or not parquet
        raise UnfreezeError(f"{what}: cannot read {path}: {first_line(exc)}") from None


def load_local(folder: str | Path, lang: str, split: str, columns=(), checks: dict[str, Check] | None = None):
    """``folder/lang/split.{jsonl,json,parquet}`` as a ``datasets.Dataset``, checked whole (see ``check``)."""
    import datasets

    path = local_file(folder, lang, split)
    what = f"{lang}/{split}"
    if path is None:
        others = sorted(p.name for p in (Path(folder) / lang).glob(f"{split}.*") if p.is_file())
        found = f"; found {', '.join(others)}, which is not read" if others else ""
        raise UnfreezeError(f"no {split} data for language {lang!r} in {folder} "
                            f"(expected {Path(folder) / lang / (split + '.jsonl')}, .json or .parquet{found})")
    parquet = path.suffix == ".parquet"
    try:
        rows = parquet_rows(path, what) if parquet else check_json(path, what, columns, checks or {})
    except OSError as exc:  # unreadable: permissions, an I/O error
        raise UnfreezeError(f"{what}: cannot read {path}: {exc.strerror or first_line(exc, type(exc).__name__)}"
                            ) from None
    if rows == 0:
        raise UnfreezeError(f"{what}: {path} has no rows")
    try:
        data = datasets.load_dataset("parquet" if parquet else "json", data_files=str(path), split="train")
    except Exception as exc:  # what datasets cannot read although every record parsed
        cause = exc.__cause__ or exc
        raise UnfreezeError(f"{what}: cannot read {path}: {type(cause).__name__}: {first_line(cause, '')}") from None
    return check(data, columns, what, checks if parquet else None)


def load_hub(spec: HubSplit, columns=(), what: str = "", checks: dict[str, Check] | None = None):
    import datasets

    try:
        data = datasets.load_dataset(spec.repo, spec.config, split=spec.split, revision=spec.revision)
    except Exception as exc:
        message = first_line(exc)
        raise UnfreezeError(f"cannot load {spec.repo} ({spec.config or 'default'}, {spec.split}) from the hub: "
                            f"{message}; offline, give --data-dir with files in the hub schema") from None
    data = spec.transform(data) if spec.transform else data
    return check(data, columns, what or f"{spec.repo} {spec.split}", checks)


# -- checks of a loaded split -------------------------------------------------------------------------------

def check(data, columns, what: str, checks: dict[str, Check] | None = None):
    """Fail with one line when a column is missing, the split has no rows or a value fails ``checks``
    (the first bad one, by column); returns ``data``."""
    missing = [c for c in columns if c not in data.column_names]
    if missing:
        raise UnfreezeError(f"{what}: missing column {missing[0]!r} (has: {', '.join(data.column_names)})")
    if len(data) == 0:
        raise UnfreezeError(f"{what}: the split has no rows")
    for name, value_check in (checks or {}).items():
        for row, value in enumerate(column(data, name, what)):
            problem = value_check(name, value)
            if problem:
                raise UnfreezeError(f"{what}: row {row}{problem}")
    return data


def column(data, name: str, what: str) -> list:
    """The values of one column; bytes that are not UTF-8 (which arrow stores as they are) are one line."""
    try:
        return list(data[name])
    except UnicodeDecodeError as exc:
        raise UnfreezeError(f"{what}: column {name!r} is not UTF-8 text ({exc.reason} at byte {exc.start} of a value)"
                            ) from None


def limit(data, n: int | None):
    return data if n is None or n >= len(data) else data.select(range(n))


def sample(data, n: int | None, seed: int = 0):
    """A random subset of ``n`` rows, the same for every run (SQuAD is ordered by article: its first rows are not a sample)."""
    import random

    if n is None or n >= len(data):
        return data
    return data.select(sorted(random.Random(seed).sample(range(len(data)), n)))
