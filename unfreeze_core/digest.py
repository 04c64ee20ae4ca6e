"""The sha256 of a file's bytes, read in blocks: the one hash behind the world's manifest, the packaged
checkpoint's integrity check and a run's identity."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
