"""Writing report files: all of them or none, each whole (a temporary file renamed into place)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from unfreeze_core.errors import UnfreezeError


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def writable_folder(folder: str | Path, flag: str = "--out") -> tuple[Path, bool]:
    """``folder``, made if missing, after a probe that a file can be written there; (folder, made by us).
    Every way it cannot be written is one line naming ``flag``."""
    folder = Path(folder)
    made = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".unfreeze-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UnfreezeError(f"{flag} {folder}: cannot write there ({_why(exc)})") from None
    return folder, made


def write_all(files: dict[Path, Callable[[Path], bool] | str]) -> list[Path]:
    """Write every file (text, or a function that writes the path it is given and returns False when it has
    nothing to write) to a temporary name next to it, then rename them all into place; the paths written. If any
    write fails, none of the files appears, and an OSError is one line."""
    done: list[tuple[Path, Path]] = []
    path = None
    try:
        for path, content in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            done.append((Path(tmp), path))
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's file is private; the output is an ordinary file
            if callable(content):
                if content(Path(tmp)) is False:
                    done.pop()
                    os.unlink(tmp)
            else:
                Path(tmp).write_text(content, encoding="utf-8")
        for tmp, path in done:
            os.replace(tmp, path)
    except OSError as exc:
        raise UnfreezeError(f"cannot write {path}: {_why(exc)}") from None
    finally:
        for tmp, _ in done:
            tmp.unlink(missing_ok=True)
    return [path for _, path in done]


def remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
