"""One loader for every source: a local folder in the hub's schema, the embedded world, or the hub.

A local folder (``--data-dir``, and the embedded world) holds ``<lang>/<split>.jsonl`` (or
``.json``/``.parquet``), one record per line in the hub dataset's own schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UnfreezeError, first_line

SUFFIXES = (".jsonl", ".json", ".parquet")


@dataclass(frozen=True)
class HubSplit:
    """Where one (language, split) lives on the hub; ``transform`` maps its records to our schema."""

    repo: str
    split: str
    config: str | None = None
    revision: str | None = None
    transform: Callable | None = None


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


def load_local(folder: str | Path, lang: str, split: str):
    import datasets

    path = local_file(folder, lang, split)
    if path is None:
        raise UnfreezeError(f"no {split} data for language {lang!r} in {folder} "
                            f"(expected {Path(folder) / lang / (split + '.jsonl')})")
    kind = "parquet" if path.suffix == ".parquet" else "json"
    if path.stat().st_size == 0:
        raise UnfreezeError(f"{lang}/{split}: the split is empty ({path})")
    try:
        return datasets.load_dataset(kind, data_files=str(path), split="train")
    except ValueError as exc:
        if "corresponds to no data" in str(exc):
            raise UnfreezeError(f"{lang}/{split}: the split is empty ({path})") from None
        raise UnfreezeError(f"{path}: {first_line(exc)}") from None
    except Exception as exc:  # malformed JSON or parquet
        raise UnfreezeError(f"cannot read {path}: {type(exc).__name__}: {first_line(exc, '')}") from None


def load_hub(spec: HubSplit):
    import datasets

    try:
        data = datasets.load_dataset(spec.repo, spec.config, split=spec.split, revision=spec.revision)
    except Exception as exc:
        message = first_line(exc)
        raise UnfreezeError(f"cannot load {spec.repo} ({spec.config or 'default'}, {spec.split}) from the hub: "
                            f"{message}; offline, give --data-dir with files in the hub schema") from None
    return spec.transform(data) if spec.transform else data


def check(data, columns: list[str], what: str):
    """Fail with one line when a column is missing or the split is empty."""
    missing = [c for c in columns if c not in data.column_names]
    if missing:
        raise UnfreezeError(f"{what}: missing column {missing[0]!r} (has: {', '.join(data.column_names)})")
    if len(data) == 0:
        raise UnfreezeError(f"{what}: the split is empty")
    return data


def column(data, name: str, what: str) -> list:
    """The values of one column; bytes that are not UTF-8 (which arrow stores as they are) are one line."""
    try:
        return list(data[name])
    except UnicodeDecodeError as exc:
        raise UnfreezeError(f"{what}: column {name!r} is not UTF-8 text ({exc.reason} at byte {exc.start} of a value)"
                            ) from None


def check_text(data, columns, what: str) -> None:
    """Every value of ``columns`` is a string (no null premise, no number where text belongs)."""
    for name in columns:
        for row, value in enumerate(column(data, name, what)):
            if not isinstance(value, str):
                raise UnfreezeError(f"{what}: row {row} has {name} = {value!r}, expected text")


def check_labels(data, name: str, num: int, what: str) -> None:
    """Every label is an integer in 0..num-1 (not -1, not text, not null)."""
    for row, value in enumerate(column(data, name, what)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < num:
            raise UnfreezeError(f"{what}: row {row} has {name} = {value!r}, expected an integer 0..{num - 1}")


def check_choice(data, name: str, allowed, what: str) -> None:
    """Every value of ``name`` is one of ``allowed`` (COPA's question: cause or effect)."""
    for row, value in enumerate(column(data, name, what)):
        if value not in allowed:
            raise UnfreezeError(f"{what}: row {row}: {name} {value!r} is not one of {', '.join(allowed)}")


def check_answers(data, name: str, what: str) -> None:
    """SQuAD answers: {text: [str], answer_start: [int]} of equal length."""
    for row, value in enumerate(column(data, name, what)):
        texts = value.get("text") if isinstance(value, dict) else None
        starts = value.get("answer_start") if isinstance(value, dict) else None
        if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts) \
                or not all(isinstance(t, str) for t in texts) \
                or not all(isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in starts):
            raise UnfreezeError(f"{what}: row {row} has {name} = {value!r}, expected "
                                "{text: [strings], answer_start: [offsets >= 0]} of equal length")


def limit(data, n: int | None):
    return data if n is None or n >= len(data) else data.select(range(n))


def sample(data, n: int | None, seed: int = 0):
    """A random subset of ``n`` rows, the same for every run (SQuAD is ordered by article: its first rows are not a sample)."""
    import random

    if n is None or n >= len(data):
        return data
    return data.select(sorted(random.Random(seed).sample(range(len(data)), n)))
