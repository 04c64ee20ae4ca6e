"""The run log: one JSON record per line in ``log.jsonl`` (loss lines, validation, tr(F)).

Written by the main process only. On resume, the lines an interrupted run logged after its last
checkpoint are dropped, so no step is logged twice.
"""

from __future__ import annotations

import json
from pathlib import Path

FILE = "log.jsonl"


class RunLog:
    def __init__(self, run_dir: Path, keep_until: int = 0, enabled: bool = True):
        """Open ``run_dir/log.jsonl``, keeping the records of steps <= ``keep_until`` (0: start afresh)."""
        self.file = None
        if not enabled:
            return
        path = Path(run_dir) / FILE
        kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= keep_until] \
            if keep_until and path.exists() else []
        self.file = open(path, "w")
        self.file.writelines(line + "\n" for line in kept)

    def write(self, record: dict) -> None:
        if self.file:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file:
            self.file.close()
            self.file = None

