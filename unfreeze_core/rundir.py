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
    .unfreeze.lock           held while a process writes the folder: {"pid", "host", "since", "started",
                             "heartbeat_s"}, renewed (its mtime) every heartbeat_s seconds

A sweep folder holds ``sweep.json``, ``logs/`` and the ``table.*`` files beside its cells' run folders
(``sweep.json``'s lock is the sweep folder's own ``.unfreeze.lock``). The Trainer callback writes
``unfreeze.json`` (its settings), ``schedule.json`` and ``fisher.jsonl`` into the Trainer's ``output_dir``;
its resumable state lives in each ``checkpoint-N``'s ``trainer_state.json`` (the Trainer's own file).

The lock: a process that writes a folder (a run, a resumed run, a sweep cell, a sweep driver) holds
``.unfreeze.lock``, created with ``O_EXCL``. A second writer is refused with one line naming the holder.
A lock whose holder is gone (same host: no such process, that pid now belongs to a process started later,
or to a process that is not unfreeze; another host: the lock was not renewed for ``STALE_AFTER``
heartbeats) is taken over. The lock is read without blocking and every field range-checked: a lock that is
not a regular file (a FIFO, a link, a folder) is one line naming it; an unreadable one counts as held and
says to delete it if nothing writes the folder.
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


def write_reason(exc: BaseException) -> str | None:
    """Why a write failed, in the machine's words (``No space left on device``), when ``exc`` is a failed write:
    an OSError, or a library's own error that carries the OS's (safetensors: ``I/O error: ...``); else None."""
    import re

    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    found = re.search(r"I/O error: (.+?)(?: \(os error \d+\))?$", text)
    return found.group(1) if found else None


class WriteError(UnfreezeError):
    """A file the machine refused to write (a full or read-only disk, a quota, a file-size limit)."""


def write_failed(path, exc: BaseException) -> WriteError:
    return WriteError(f"could not write {path}: {write_reason(exc) or exc}")


def write_text_atomic(path: Path, text: str) -> None:
    """``text`` into ``path`` through a temporary file renamed over it: never half-written. A write the machine
    refuses is one line (``could not write PATH: No space left on device``); ``path`` is left as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise write_failed(path, exc) from None
    finally:
        try:
            if tmp.exists() or tmp.is_symlink():
                tmp.unlink()
        except OSError:
            pass


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

HEARTBEAT_ENV = "UNFREEZE_LOCK_HEARTBEAT_S"
"""Seconds between two renewals of a held lock (default ``HEARTBEAT_S``; small in tests)."""
HEARTBEAT_S = 30.0
STALE_AFTER = 10
"""A lock of another host is stale once it has not been renewed for this many of its heartbeats."""
MAX_LOCK_BYTES = 4096
"""A lock file is one short JSON line; a longer one is not ours."""
UNREADABLE = "unreadable"


def heartbeat_s() -> float:
    from .limits import MAX_SECONDS

    try:
        value = float(os.environ.get(HEARTBEAT_ENV, HEARTBEAT_S))
    except ValueError:
        return HEARTBEAT_S
    return value if 0 < value <= MAX_SECONDS else HEARTBEAT_S


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
    from .limits import MAX_PID

    if not 0 < pid <= MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except OSError:
        return False
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except (OSError, IndexError):
        pass
    now = _boot_ticks(pid)
    return started is None or now is None or now == started


def _looks_like_unfreeze(pid: int) -> bool | None:
    """Whether ``pid``'s command line is a Python (or torchrun) process that can run unfreeze; None: unknown."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if not argv or not argv[0]:
        return None  # a kernel thread, or hidden
    words = [os.path.basename(a.decode(errors="replace")) for a in argv[:3]]
    return any(w.startswith(("python", "pypy", "unfreeze", "torchrun")) for w in words)


def is_writer(record: dict) -> bool:
    """Whether the process a lock of this host names is a live unfreeze writer: alive, started when the lock
    says (a pid reused by a later process is not), or, where the lock has no start time, a Python process."""
    pid, started = record["pid"], record.get("started")
    if not process_alive(pid, started):
        return False
    if started is None or _boot_ticks(pid) is None:
        return _looks_like_unfreeze(pid) is not False
    return True


def holder(folder: str | Path) -> dict | None:
    """The lock's record ({pid, host, since ...}) if someone holds ``folder`` now, else None (no lock, or a lock
    whose holder is gone: on this host no such unfreeze process, elsewhere not renewed for a while). A lock that
    is not a regular file raises ``LockedError`` (one line naming it); an unreadable one counts as held."""
    record = _read(Path(folder) / LOCK)
    if record is None or _stale(record):
        return None
    return record


def _read(path: Path) -> dict | None:
    """The lock's record, checked field by field and never blocking (a FIFO is not opened for reading in a
    way that waits); None when there is no lock; ``{"unreadable": why}`` for one whose content is not ours."""
    import errno
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise LockedError(f"{path.parent}: its lock file {path} is a symbolic link (to {os.readlink(path)}), "
                              f"not a lock unfreeze writes; delete it if no process writes this folder") from None
        return {UNREADABLE: exc.strerror or str(exc)}
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a folder" if stat.S_ISDIR(info.st_mode)
                    else "a socket" if stat.S_ISSOCK(info.st_mode) else "a device" if
                    stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "not a regular file")
            raise LockedError(f"{path.parent}: its lock file {path} is {kind}, not a lock unfreeze writes; "
                              f"delete it if no process writes this folder")
        data = os.read(fd, MAX_LOCK_BYTES + 1)
    except OSError as exc:
        return {UNREADABLE: exc.strerror or str(exc)}
    finally:
        os.close(fd)
    if len(data) > MAX_LOCK_BYTES:
        return {UNREADABLE: f"it holds more than {MAX_LOCK_BYTES} bytes"}
    try:
        record = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return {UNREADABLE: "it is not a JSON record (torn, or being written right now)"}
    why = _check_record(record)
    if why:
        return {UNREADABLE: why}
    return {**record, "mtime": info.st_mtime}


def _check_record(record) -> str | None:
    """Why a lock record is not one unfreeze writes (every field in range), or None."""
    import math

    from .limits import MAX_PID, MAX_SECONDS, MAX_TICKS, MAX_TIME

    def integer(value):
        return isinstance(value, int) and not isinstance(value, bool)

    def number(value):
        return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)

    if not isinstance(record, dict):
        return "it is not a JSON object"
    pid, host = record.get("pid"), record.get("host")
    if "pid" not in record:
        return "it names no process"
    if not integer(pid) or not 0 < pid <= MAX_PID:
        return f"pid {pid!r} is not a process id (1..{MAX_PID})"
    if not isinstance(host, str) or not 0 < len(host) <= 255:
        return f"host {host!r} is not a host name"
    since = record.get("since")
    if since is not None and (not number(since) or not 0 <= since <= MAX_TIME):
        return f"since {since!r} is not a time"
    started = record.get("started")
    if started is not None and (not integer(started) or not 0 <= started <= MAX_TICKS):
        return f"started {started!r} is not a process start time"
    beat = record.get("heartbeat_s")
    if beat is not None and (not number(beat) or not 0 < beat <= MAX_SECONDS):
        return f"heartbeat_s {beat!r} is not a number of seconds"
    return None


def _stale(record: dict) -> bool:
    """A readable lock whose holder is gone: on this host, not a live unfreeze process; on another host, not
    renewed for ``STALE_AFTER`` heartbeats (a lock without heartbeat, of an earlier version, never is)."""
    if UNREADABLE in record:
        return False
    if record["host"] == socket.gethostname():
        return not is_writer(record)
    beat = record.get("heartbeat_s")
    return beat is not None and time.time() - record["mtime"] > STALE_AFTER * beat


def describe(record: dict) -> str:
    since = record.get("since")
    when = f" since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}" \
        if isinstance(since, (int, float)) and not isinstance(since, bool) else ""
    return f"pid {record.get('pid')} on {record.get('host')}{when}"


class _Heartbeat:
    """Renews a held lock (its modification time) every ``interval`` seconds, so that a holder on another host
    that stops renewing it (killed, its node lost) leaves a lock others see as stale."""

    def __init__(self, path: Path, interval: float):
        import threading

        self.path, self.interval = path, interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="unfreeze-lock-heartbeat", daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped.wait(self.interval):
            try:
                os.utime(self.path, follow_symlinks=False)
            except OSError:
                pass

    def stop(self):
        self.stopped.set()


class Lock:
    """``folder/.unfreeze.lock`` held by this process (a context manager; re-entrant within the process), renewed
    by a heartbeat while held."""

    _held: dict[Path, int] = {}
    _beats: dict[Path, _Heartbeat] = {}

    def __init__(self, folder: str | Path, what: str = "run folder"):
        self.folder, self.what = Path(folder), what
        self.path = self.folder / LOCK

    def acquire(self) -> "Lock":
        key = self.path.absolute()
        if self._held.get(key):
            self._held[key] += 1
            return self
        beat = heartbeat_s()
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                  "started": _boot_ticks(os.getpid()), "heartbeat_s": beat}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if self._take_over():
                    continue
                other = _read(self.path)
                if other is None:
                    continue  # released meanwhile
                if UNREADABLE in other:  # torn or edited: no holder to name or to check
                    raise LockedError(f"{self.folder}: its lock file {self.path} is unreadable ({other[UNREADABLE]}), "
                                      f"so it counts as held; delete that file if no process writes this folder") \
                        from None
                elsewhere = other.get("host") != socket.gethostname()
                raise LockedError(f"{self.folder} is being written by another process ({describe(other)}): "
                                  f"one writer at a time; wait for it to end, or stop it"
                                  + (f" (on another host: it is taken over once not renewed for "
                                     f"{STALE_AFTER * other['heartbeat_s']:g} s; delete {self.path} once that "
                                     f"process is gone)" if elsewhere and other.get("heartbeat_s") else
                                     f" (on another host: delete {self.path} once that process is gone)"
                                     if elsewhere else "")) from None
            except OSError as exc:
                raise UnfreezeError(f"cannot lock the {self.what} {self.folder}: {exc.strerror or exc}") from None
            try:
                with os.fdopen(fd, "w") as out:
                    out.write(json.dumps(record) + "\n")
            except OSError as exc:
                self.path.unlink(missing_ok=True)
                raise UnfreezeError(f"could not write {self.path}: {exc.strerror or exc}") from None
            self._held[key] = 1
            self._beats[key] = _Heartbeat(self.path, beat)
            return self
        raise LockedError(f"{self.folder}: its lock {self.path} changed hands three times while being taken "
                          f"over; another process is starting here: wait for it, or stop it")

    def _take_over(self) -> bool:
        """Remove a lock whose holder is gone; True if removed. Two processes taking it over at once serialise
        on an flock of the folder, so only one removes it."""
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
        beat = self._beats.pop(key, None)
        if beat:
            beat.stop()
        try:
            record = _read(self.path)
        except LockedError:
            return  # replaced by something that is not our lock: not ours to remove
        if record is not None and record.get("pid") == os.getpid() and record.get("host") == socket.gethostname():
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
