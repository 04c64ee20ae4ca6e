"""The run log: one JSON record per line in ``log.jsonl`` (loss lines, validation, tr(F)).

Written by the main process only. On resume, the lines an interrupted run logged after its last
checkpoint are dropped, so no step is logged twice; so is any line that is not a JSON object with an
integer step (a line torn by a kill, or edited). The kept lines replace the file atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from .rundir import LOG as FILE, write_failed, write_text_atomic


def line_step(line: str) -> int | None:
    """The step of a log line, or None for a line that is torn, edited or not a record."""
    try:
        step = json.loads(line).get("step")
    except (ValueError, AttributeError, RecursionError):
        return None
    from .limits import MAX_COUNT

    return step if isinstance(step, int) and not isinstance(step, bool) and 0 <= step <= MAX_COUNT else None


def kept_lines(path: Path, keep_until: int) -> list[str]:
    """The lines of ``path`` logged at steps <= ``keep_until``."""
    if not keep_until or not path.exists():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if (step := line_step(line)) is not None and step <= keep_until]


class RunLog:
    def __init__(self, run_dir: Path, keep_until: int = 0, enabled: bool = True):
        """Open ``run_dir/log.jsonl``, keeping the records of steps <= ``keep_until`` (0: start afresh)."""
        from . import signals

        self.file = None
        if not enabled:
            return
        path = Path(run_dir) / FILE
        kept = kept_lines(path, keep_until)
        self.path = path
        with signals.critical():
            write_text_atomic(path, "".join(line + "\n" for line in kept))
            try:
                self.file = open(path, "a")
            except OSError as exc:
                raise write_failed(path, exc) from None

    def write(self, record: dict) -> None:
        if self.file:
            try:
                self.file.write(json.dumps(record) + "\n")
                self.file.flush()
            except OSError as exc:
                raise write_failed(self.path, exc) from None

    def close(self) -> None:
        if self.file:
            file, self.file = self.file, None
            try:
                file.close()
            except OSError as exc:
                raise write_failed(self.path, exc) from None
