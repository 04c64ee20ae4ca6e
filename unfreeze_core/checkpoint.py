"""Resumable checkpoints: trainable weights, optimizer, LR schedule, unfreezing schedule and RNG states.

One file, ``checkpoint.safetensors``, and no pickle: every tensor (weights, optimizer moments, torch RNG
states) is a safetensors tensor, everything else (step, loss window, schedule state, LR schedule state,
optimizer param groups, Python and NumPy RNG states, the run's configuration and its fingerprint) is
JSON in the file's metadata. Reading it can therefore never run code. It is written to a unique
temporary name in the run directory and renamed over the old one, so a run that dies keeps its last
complete checkpoint and ``unfreeze run --resume RUN_DIR`` continues it to the same final weights.

``checkpoint.pt`` files of earlier versions are read with ``torch.load(weights_only=True)`` (plain types,
tensors and NumPy arrays only); anything else in them is refused with one line, never unpickled.
"""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
from pathlib import Path

from .errors import UnfreezeError, first_line
from .rundir import CHECKPOINT as FILE, LEGACY_CHECKPOINT as LEGACY_FILE
from .saved_state import fingerprint  # noqa: F401  (checkpoint.fingerprint: the stored configuration's)
META_KEY = "unfreeze"
FORMAT = 1
SEP = "/"


class CheckpointError(UnfreezeError):
    """A checkpoint that is empty, truncated, corrupt or not ours."""


class CheckpointWriteError(UnfreezeError):
    """The machine refused a checkpoint write (a full disk, a file-size limit): the previous one is intact."""


def rng_state() -> dict:
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    import numpy as np
    import torch

    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


def trainable_state(model, names: set[str]) -> dict:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if n in names}


def params_state(model, params: list) -> dict:
    """The named state of ``params`` (the trainable ones: head and every unit) of ``model``."""
    ids = {id(p) for p in params}
    return trainable_state(model, {n for n, p in model.named_parameters() if id(p) in ids})




# -- tensors <-> one flat dict, everything else <-> JSON ----------------------------------------------

def _split(value, prefix: str, tensors: dict):
    """``value`` with every tensor replaced by {"$tensor": key} and stored in ``tensors[key]``."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        key = prefix
        tensors[key] = value.detach().cpu().contiguous()
        return {"$tensor": key}
    if isinstance(value, np.ndarray):
        return {"$ndarray": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, dict):
        if not all(isinstance(k, (str, int)) for k in value):
            raise TypeError(f"checkpoint keys must be str or int at {prefix}")
        return {"$dict": [[k, _split(v, f"{prefix}{SEP}{k}", tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$tuple": [_split(v, f"{prefix}{SEP}{i}", tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_split(v, f"{prefix}{SEP}{i}", tensors) for i, v in enumerate(value)]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint (at {prefix})")


def _join(value, tensors: dict):
    import numpy as np

    if isinstance(value, list):
        return [_join(v, tensors) for v in value]
    if isinstance(value, dict):
        if "$tensor" in value:
            return tensors[value["$tensor"]]
        if "$ndarray" in value:
            dtype = np.dtype(str(value["dtype"]))
            if dtype.kind not in "biuf":  # numbers only (the NumPy RNG state), never objects
                raise ValueError(f"array of dtype {dtype} in a checkpoint")
            return np.asarray(value["$ndarray"], dtype=dtype)
        if "$tuple" in value:
            return tuple(_join(v, tensors) for v in value["$tuple"])
        if "$dict" in value:
            return {k: _join(v, tensors) for k, v in value["$dict"]}
        raise ValueError(f"unknown entry {sorted(value)}")
    return value


def save(run_dir: Path, *, config: dict | None = None, **state) -> Path:
    """Write ``state`` (plus the RNG states and ``config``'s fingerprint) atomically to ``run_dir``: a signal
    waits until the file is complete; a write the machine refuses leaves the previous checkpoint as it was."""
    from safetensors.torch import save_file

    from . import signals

    run_dir = Path(run_dir)
    tensors: dict = {}
    body = {"format": FORMAT, "state": _split({**state, "rng": rng_state()}, "s", tensors)}
    if config is not None:
        body["config"] = json.loads(json.dumps(config, default=str))
        body["fingerprint"] = fingerprint(body["config"])
    with signals.critical():
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{FILE}.", suffix=".tmp", dir=run_dir)
            os.close(fd)
            save_file(tensors, tmp, metadata={META_KEY: json.dumps(body)})
            os.replace(tmp, run_dir / FILE)
        except OSError as exc:
            raise _write_failed(run_dir, state.get("step"), exc.strerror or first_line(exc)) from None
        except Exception as exc:  # safetensors' own error for a failed write ("I/O error: No space left on device")
            io = re.search(r"I/O error: (.+?)(?: \(os error \d+\))?$", first_line(exc))
            if not io:
                raise
            raise _write_failed(run_dir, state.get("step"), io.group(1)) from None
        finally:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
    return run_dir / FILE


def _write_failed(run_dir: Path, step, reason: str) -> CheckpointWriteError:
    """One line: the write that failed, why (the machine's words), and the checkpoint that is still there."""
    try:
        kept = load(run_dir)
    except UnfreezeError:
        kept = None
    before = f"the previous checkpoint (step {kept['step']}) is intact" if kept else "no earlier checkpoint exists"
    return CheckpointWriteError(f"could not write the checkpoint of step {step} in {run_dir} "
                                f"({reason}); {before}")


def exists(run_dir: Path) -> bool:
    return (Path(run_dir) / FILE).is_file() or (Path(run_dir) / LEGACY_FILE).is_file()


def load(run_dir: Path) -> dict | None:
    """The state saved in ``run_dir`` (None when there is no checkpoint); ``config`` and ``fingerprint``
    are included when the checkpoint recorded them. A bad file is one line (CheckpointError)."""
    run_dir = Path(run_dir)
    path = run_dir / FILE
    if path.is_file():
        return _load_safetensors(path)
    if (run_dir / LEGACY_FILE).is_file():
        return _load_legacy(run_dir / LEGACY_FILE)
    return None


def _load_safetensors(path: Path) -> dict:
    from safetensors import safe_open

    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (the run died while writing it?); "
                              f"no step can be resumed from it")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
        body = json.loads(meta[META_KEY])
        if body.get("format") != FORMAT:
            raise ValueError(f"unknown checkpoint format {body.get('format')!r}")
        state = _join(body["state"], tensors)
        for key in ("step", "weights", "optimizer", "scheduler", "schedule", "window", "rng"):
            if key not in state:
                raise KeyError(key)
    except Exception as exc:  # truncated, not safetensors, no metadata, bad JSON, missing entries
        detail = first_line(exc)
        raise CheckpointError(f"checkpoint {path} is corrupt or incomplete ({type(exc).__name__}: {detail})") from None
    if "config" in body:
        state["config"], state["fingerprint"] = body["config"], body.get("fingerprint")
    return state


def _load_legacy(path: Path) -> dict:
    """A ``checkpoint.pt`` of an earlier version: tensors and plain types only, never arbitrary objects."""
    import numpy as np
    import torch

    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (the run died while writing it?)")
    # NumPy's array reconstruction is what the old format's np.random.get_state() needs; nothing else.
    core = getattr(np, "_core", None) or np.core
    allowed = [core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]
    try:
        with torch.serialization.safe_globals(allowed):
            state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:
        detail = first_line(exc)
        raise CheckpointError(f"refusing checkpoint {path}: it is not a plain tensors-and-numbers checkpoint "
                              f"and is never unpickled ({detail[:200]})") from None
    if not isinstance(state, dict) or "weights" not in state:
        raise CheckpointError(f"checkpoint {path} is not an unfreeze checkpoint")
    return state


class Checkpoints:
    """When the loop checkpoints (``--checkpoint-every``, the last step, a stop signal; main process only)
    and how a resumed seed is restored: the loop's ModelCheckpoint."""

    def __init__(self, trainer):
        self.trainer = trainer

    def after_step(self, done: int, window: list[float]) -> None:
        every, steps = self.trainer.config.checkpoint_every, self.trainer.steps
        if every and (done % every == 0 or done == steps):
            self.save(done, window)

    def save(self, done: int, window: list[float]) -> None:
        """The main process writes; under several processes every rank calls it (at the same step), so each
        rank's random state is gathered into the checkpoint and a resume restores every rank's own."""
        t = self.trainer
        extra = {}
        if t.accelerator.num_processes > 1:
            from accelerate.utils import gather_object

            extra["rank_rngs"] = gather_object([rng_state()])[1:]
        if not t.accelerator.is_main_process:
            return
        save(t.run_dir, config={**t.config.as_dict(), "seeds": [t.seed]}, step=done,
             weights=params_state(t.inner_model, t.trainable_params), optimizer=t.optimizer.state_dict(),
             scheduler=t.scheduler.state_dict(), schedule=t.unfreezer.state_dict(), window=window, **extra)

    def kept_step(self) -> int | None:
        """The step of the checkpoint on disk, or None."""
        try:
            state = load(self.trainer.run_dir)
        except UnfreezeError:
            return None
        return state["step"] if state else None

    def restore(self, state: dict | None = None) -> tuple[int, list[float]]:
        """Continue from the run folder's checkpoint (or ``state``, read from it already); every field is
        checked against this run before any is loaded. Returns (updates done, loss window)."""
        from .saved_state import check, check_fit

        t = self.trainer
        if state is None:
            state = load(t.run_dir)
            if state is None:
                raise UnfreezeError(f"no checkpoint to resume in {t.run_dir}")
        check(state, {**t.config.as_dict(), "seeds": [t.seed]}, t.run_dir, steps=t.steps)
        ids = {id(p) for p in t.trainable_params}
        named = {n: p for n, p in t.inner_model.named_parameters() if id(p) in ids}
        order = [p for group in t.optimizer.param_groups for p in group["params"]]
        check_fit(state, t.run_dir, named, t.steps, len(t.unfreezer.units), order)
        try:
            t.inner_model.load_state_dict(state["weights"], strict=False)
            t.unfreezer.load_state_dict(state["schedule"])
            t.rewrap()
            t.optimizer.load_state_dict(state["optimizer"])
            t.scheduler.load_state_dict(state["scheduler"])
            restore_rng(state["rng"])
            rank, others = t.accelerator.process_index, state.get("rank_rngs")
            if rank and isinstance(others, list) and len(others) == t.accelerator.num_processes - 1:
                restore_rng(others[rank - 1])  # this rank's own stream (dropout), as in an unbroken run
            return int(state["step"]), list(state["window"])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise UnfreezeError(f"the checkpoint in {t.run_dir} does not fit this run ({first_line(exc)})") from None
