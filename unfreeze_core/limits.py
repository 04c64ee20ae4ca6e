"""The largest numbers unfreeze reads and can honour: one place for the bounds, one line when one is passed.

Every integer and float unfreeze reads (flags, YAML, ``-o``, grid resources, checkpoint and lock fields,
log lines) is checked against a bound here where it is read. The bounds are what the code downstream can
honour: torch and numpy index with 32-/64-bit integers, ``itertools.islice`` and the C ``long long``
refuse larger Python integers, and ``time.sleep`` and the clock have a range.
"""

from __future__ import annotations

import math

from .errors import UnfreezeError

MAX_COUNT = 2**31 - 1
"""Steps, intervals, batch sizes, batches, examples, lengths: a count that torch, numpy and islice honour."""
MAX_THREADS = 4096
"""CPU threads for torch: more than any machine has, few enough for OpenMP to start."""
MAX_PROCESSES = 4096
"""Processes, CPUs and GPUs a sweep cell may ask for."""
MAX_EPOCHS = 1e6
"""``--epochs``: with a dataset of 2000 batches this is already 2e9 steps, past ``MAX_COUNT``."""
MAX_SECONDS = 366 * 24 * 3600.0
"""A duration unfreeze waits or sleeps (a launcher's poll, grace, wait bound): a year."""
MAX_PID = 2**22
"""Linux's largest pid (``/proc/sys/kernel/pid_max`` can be at most 2**22)."""
MAX_TIME = 2**34
"""A wall-clock time in seconds since 1970 (the year 2514): later is not a time this host wrote."""
MAX_TICKS = 2**63 - 1
"""A process start time in clock ticks since boot (``/proc/PID/stat``, an unsigned long long)."""


def at_most(what: str, value, bound, low=None) -> None:
    """``value`` within ``low``..``bound``, else one line naming the value and the bound."""
    if isinstance(value, float) and not math.isfinite(value):
        raise UnfreezeError(f"{what} must be a finite number, got {value}")
    if value > bound:
        raise UnfreezeError(f"{what} is {_show(value)}, above the largest value unfreeze can honour ({_show(bound)})")
    if low is not None and value < low:
        raise UnfreezeError(f"{what} is {_show(value)}, below the smallest value ({_show(low)})")


def _show(value) -> str:
    if isinstance(value, int) and abs(value) >= 10**6:
        if abs(value) < 10**30:
            return f"{value} (about {float(value):.3g})"
        return f"{'-' if value < 0 else ''}about 2**{abs(value).bit_length() - 1}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def mean(values) -> float:
    """The mean of finite numbers without overflow (a sum of 1e308s is inf; the sum of their shares is not)."""
    values = list(values)
    n = len(values)
    return math.fsum(v / n for v in values) if n else float("nan")
