"""The one owner of a run folder: its layout (every file name), exclusive creation, the writer's lock,
and whether a run there has started, finished or can be resumed.

A seed's run folder::

    config.yaml              the resolved configuration (written here only: ``write_config``)
    plugins.json             name, plugin and version of every component
    log.jsonl                loss, validation and tr(F) records, one JSON object a line
    checkpoint.safetensors   the resumable state (``checkpoint.py``); checkpoint.pt of earlier versions
    schedule.json            the unfreezing events
    task_adapter/            the trained adapter (the backend's own format)
    results.json             scores per language: the run finished
    .unfreeze.lock           held while a process writes the folder: {"pid", "host", "since"}

A sweep folder holds ``sweep.json``, ``logs/`` and the ``table.*`` files beside its cells' run folders
(``sweep.json``'s lock is the sweep folder's own ``.unfreeze.lock``). The Trainer callback writes
``unfreeze.json`` (its settings), ``schedule.json`` and ``fisher.jsonl`` into the Trainer's ``output_dir``;
its resumable state lives in each ``checkpoint-N``'s ``trainer_state.json`` (the Trainer's own file).

The lock: a process that writes a folder (a run, a resumed run, a sweep cell, a sweep driver) holds
``.unfreeze.lock``, created with ``O_EXCL``. A second writer is refused with one line naming the holder.
A lock whose holder is gone (same host, no such process, or that pid now belongs to a process started
later) is taken over; a holder on another host cannot be checked and is refused (delete the file once
that process is known to be gone).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from .errors import UnfreezeError

CONFIG = "config.yaml"
PLUGINS = "plugins.json"
LOG = "log.jsonl"
CHECKPOINT = "checkpoint.safetensors"
LEGACY_CHECKPOINT = "checkpoint.pt"
SCHEDULE = "schedule.json"
ADAPTER = "task_adapter"
RESULTS = "results.json"
FISHER = "fisher.jsonl"
LOCK = ".unfreeze.lock"
CALLBACK_SETTINGS = "unfreeze.json"
"""The Trainer callback's state in each ``checkpoint-N`` folder (for ``resume_from_checkpoint``)."""

SWEEP = "sweep.json"
SWEEP_LOGS = "logs"
TABLES = ("table.md", "table.csv", "table.tex")

RUN_FILES = (LOG, RESULTS, SCHEDULE, CONFIG)
"""What ``unfreeze plot`` reads from a run folder."""
STARTED = (LOG, CHECKPOINT, LEGACY_CHECKPOINT)
"""Files that exist once training has begun: a folder without them holds a run that never started."""
UNSTARTED = (CONFIG, PLUGINS)
"""What a run leaves before training; removed again when it is refused or stopped before training."""


class LockedError(UnfreezeError):
    """Another process holds the folder's lock."""


def results_files(root: str | Path) -> list[Path]:
    """Every ``results.json`` below ``root`` (a finished run each), in order."""
    return sorted(Path(root).rglob(RESULTS))


def write_text_atomic(path: Path, text: str) -> None:
    """``text`` into ``path`` through a temporary file renamed over it: never half-written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class RunDir:
    """A seed's run folder (it need not exist yet)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        return self.path / name

    config = property(lambda self: self.path / CONFIG)
    plugins = property(lambda self: self.path / PLUGINS)
    log = property(lambda self: self.path / LOG)
    checkpoint = property(lambda self: self.path / CHECKPOINT)
    legacy_checkpoint = property(lambda self: self.path / LEGACY_CHECKPOINT)
    schedule = property(lambda self: self.path / SCHEDULE)
    adapter = property(lambda self: self.path / ADAPTER)
    results = property(lambda self: self.path / RESULTS)
    fisher = property(lambda self: self.path / FISHER)

    # -- what the folder holds ----------------------------------------------------------------------------
    def configured(self) -> bool:
        """A run was set up here (its config.yaml exists)."""
        return self.config.is_file()

    def started(self) -> bool:
        """Training has begun here (a log or a checkpoint exists)."""
        return any((self.path / name).exists() for name in STARTED)

    def finished(self) -> bool:
        return self.results.is_file()

    def resumable(self) -> bool:
        """A checkpoint exists and the run has not finished."""
        return not self.finished() and (self.checkpoint.is_file() or self.legacy_checkpoint.is_file())

    # -- writing ------------------------------------------------------------------------------------------
    def create(self, exist_ok: bool = False) -> "RunDir":
        """Make the folder (and its parents); with ``exist_ok`` False another run's folder is refused."""
        try:
            self.path.mkdir(parents=True, exist_ok=exist_ok)
        except FileExistsError:
            raise UnfreezeError(f"{self.path} exists already: a run folder is never reused") from None
        except OSError as exc:
            raise UnfreezeError(f"cannot make the run folder {self.path}: {exc.strerror or exc}") from None
        return self

    def write_config(self, settings: dict | str) -> None:
        """config.yaml: the one place it is written (a run: ``config.config_yaml``'s text; a sweep cell: its
        settings)."""
        import yaml

        text = settings if isinstance(settings, str) else yaml.safe_dump(settings, sort_keys=False)
        write_text_atomic(self.config, text)

    def write_json(self, name: str, value) -> None:
        write_text_atomic(self.path / name, json.dumps(value, indent=1) + "\n")

    def remove_unstarted(self, lock: "Lock | None" = None) -> None:
        """A run refused or stopped before training leaves no folder (only config.yaml and plugins.json);
        ``lock``, this process's lock on it, is released on the way."""
        if not self.path.is_dir() or self.started():
            if lock:
                lock.release()
            return
        for name in UNSTARTED:
            (self.path / name).unlink(missing_ok=True)
        if lock:
            lock.release()
        try:
            self.path.rmdir()
        except OSError:
            pass

    def lock(self, what: str = "run folder") -> "Lock":
        return Lock(self.path, what)


# -- the lock -------------------------------------------------------------------------------------------------

def _boot_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, Linux), to tell a reused pid from its first owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def process_alive(pid: int, started: int | None = None) -> bool:
    """Whether process ``pid`` of this host runs (a zombie does not); ``started``: its start time as the lock
    recorded it, so a pid reused by a later process does not count."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except (OSError, IndexError):
        pass
    now = _boot_ticks(pid)
    return started is None or now is None or now == started


def holder(folder: str | Path) -> dict | None:
    """The lock's record ({pid, host, since}) if someone holds ``folder`` now, else None (no lock, or a lock
    whose holder on this host is gone)."""
    record = _read(Path(folder) / LOCK)
    if record is None or _stale(record):
        return None
    return record


def _read(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"pid": None, "host": None}  # unreadable: treated as held (someone is writing it right now)
    return record if isinstance(record, dict) else {"pid": None, "host": None}


def _stale(record: dict) -> bool:
    pid, host = record.get("pid"), record.get("host")
    if host != socket.gethostname() or not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    started = record.get("started")
    return not process_alive(pid, started if isinstance(started, int) else None)


def describe(record: dict) -> str:
    since = record.get("since")
    when = f" since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}" \
        if isinstance(since, (int, float)) and not isinstance(since, bool) else ""
    return f"pid {record.get('pid')} on {record.get('host')}{when}"


class Lock:
    """``folder/.unfreeze.lock`` held by this process (a context manager; re-entrant within the process)."""

    _held: dict[Path, int] = {}

    def __init__(self, folder: str | Path, what: str = "run folder"):
        self.folder, self.what = Path(folder), what
        self.path = self.folder / LOCK

    def acquire(self) -> "Lock":
        key = self.path.absolute()
        if self._held.get(key):
            self._held[key] += 1
            return self
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                  "started": _boot_ticks(os.getpid())}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if self._take_over():
                    continue
                other = _read(self.path)
                if not other or other.get("pid") is None:  # torn or edited: no holder to name or to check
                    raise LockedError(f"{self.folder}: its lock file {self.path} is unreadable, so it counts as held; "
                                      f"if no process writes this folder, delete that file") from None
                raise LockedError(f"{self.folder} is being written by another process ({describe(other)}): "
                                  f"one writer at a time; wait for it to end, or stop it"
                                  + ("" if other.get("host") == socket.gethostname() else
                                     f" (on another host: delete {self.path} once that process is gone)")) from None
            except OSError as exc:
                raise UnfreezeError(f"cannot lock the {self.what} {self.folder}: {exc.strerror or exc}") from None
            with os.fdopen(fd, "w") as out:
                out.write(json.dumps(record) + "\n")
            self._held[key] = 1
            return self
        raise LockedError(f"{self.folder}: could not take over its lock ({self.path}); try again")

    def _take_over(self) -> bool:
        """Remove a lock left by a process of this host that is gone; True if removed. Two processes taking
        it over at once serialise on an flock of the folder, so only one removes it."""
        import fcntl

        fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            record = _read(self.path)
            if record is None:
                return True  # released meanwhile: try again
            if not _stale(record):
                return False
            self.path.unlink(missing_ok=True)
            return True
        finally:
            os.close(fd)  # releases the flock

    def release(self) -> None:
        key = self.path.absolute()
        count = self._held.get(key, 0)
        if count > 1:
            self._held[key] = count - 1
            return
        self._held.pop(key, None)
        record = _read(self.path)
        if record is not None and record.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Lock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def check_writable(path: str | Path, what: str = "--output-dir") -> None:
    """``path`` is a writable folder, or can be made in one; nothing is left behind by the check."""
    import tempfile

    path = Path(path)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UnfreezeError(f"{what} {path}: {probe} is not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".unfreeze-probe-", dir=probe))
    except OSError as exc:
        raise UnfreezeError(f"{what} {path}: cannot write in {probe} ({exc.strerror or exc})") from None
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UnfreezeError(f"{what} {path}: {probe} is not writable")
