"""Saved state is untrusted input: every field of a checkpoint, checked before a resume changes anything.

``check(state, config, run_dir)`` runs before the model is built (types, ranges against the run's
configuration, lengths, the stored configuration and its fingerprint); ``check_fit(state, ...)`` after it
is built (names, shapes and dtypes of the weights and of the optimizer's moments, the schedule's units).
Either refuses with one line (``TamperedCheckpoint``) naming the field; nothing on disk is touched until
both have passed.
"""

from __future__ import annotations

import math
from pathlib import Path

from .errors import UnfreezeError

RESUME_MAY_CHANGE = ("threads",)
"""Settings a resume may change (``--threads``); every other one must match the checkpoint's."""

MT_WORDS = 625  # Python's Mersenne Twister state: 624 words and a position


class TamperedCheckpoint(UnfreezeError):
    """A checkpoint whose content is not what this run can have written."""



def fingerprint(config: dict) -> str:
    """sha256 of a configuration's canonical JSON (stored beside it in a checkpoint)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()

def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


class _Checker:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, field: str, why: str):
        raise TamperedCheckpoint(f"the checkpoint {self.path} is refused: {field} {why}; "
                                 f"it was not written by this run (start a new run)")

    def int_in(self, field: str, value, low: int, high: int | None = None) -> int:
        if not _int(value):
            self.fail(field, f"is {value!r}, not an integer")
        if value < low or (high is not None and value > high):
            self.fail(field, f"is {value}, outside {low}..{'' if high is None else high}")
        return value

    def numbers(self, field: str, value, length: int | None = None, max_length: int | None = None) -> list:
        if not isinstance(value, (list, tuple)):
            self.fail(field, f"is {type(value).__name__}, not a list of numbers")
        if length is not None and len(value) != length:
            self.fail(field, f"has {len(value)} entries, not {length}")
        if max_length is not None and len(value) > max_length:
            self.fail(field, f"has {len(value)} entries, more than {max_length}")
        for item in value:
            if not _number(item):
                self.fail(field, f"holds {item!r}, not a finite number")
        return list(value)

    def mapping(self, field: str, value) -> dict:
        if not isinstance(value, dict):
            self.fail(field, f"is {type(value).__name__}, not a mapping")
        return value


def check(state: dict, config: dict, run_dir: str | Path, steps: int | None = None) -> None:
    """The checkpoint's fields against the run's configuration (``config``: ``RunConfig.as_dict()`` of the
    run's config.yaml; ``steps``: the budget when known)."""
    from .rundir import CHECKPOINT, CONFIG

    run_dir = Path(run_dir)
    c = _Checker(run_dir / CHECKPOINT)
    saved = state.get("config")
    if not isinstance(saved, dict):
        raise TamperedCheckpoint(f"the checkpoint in {run_dir} records no configuration (an earlier version, or "
                                 f"edited): it cannot be checked against {run_dir / CONFIG}, so it is not resumed; "
                                 f"start a new run")
    if state.get("fingerprint") != fingerprint(saved):
        c.fail("its configuration", "does not match its fingerprint (edited)")
    check_same_config(saved, config, run_dir)
    if steps is None and config.get("epochs") is None:
        steps = config.get("steps")
    from .limits import MAX_COUNT

    step = c.int_in("step", state.get("step"), 1, steps or MAX_COUNT)  # --epochs: the budget is known later
    log_every = config.get("log_every") if _int(config.get("log_every")) else None
    c.numbers("the loss window", state.get("window"), max_length=log_every)
    _check_scheduler(c, state.get("scheduler"), step, state.get("optimizer"))
    _check_schedule(c, state.get("schedule"), step, config)
    _check_rng(c, state.get("rng"))
    if "rank_rngs" in state:  # the other ranks' random states (a run of several processes)
        ranks = state["rank_rngs"]
        if not isinstance(ranks, (list, tuple)) or len(ranks) > 4096:
            c.fail("the ranks' random states", "is not a list of at most 4096 states")
        for rng in ranks:
            _check_rng(c, rng)
    weights = c.mapping("weights", state.get("weights"))
    if not weights:
        c.fail("weights", "is empty")


def check_same_config(saved: dict, config: dict, run_dir: Path) -> None:
    """Refuse to splice two trajectories: config.yaml must be the configuration the checkpoint was made with."""
    import json

    from .rundir import CONFIG

    now = json.loads(json.dumps(config, default=str))
    for key in sorted(set(saved) | set(now)):
        if key in RESUME_MAY_CHANGE:
            continue
        if saved.get(key) != now.get(key):
            raise UnfreezeError(f"{run_dir / CONFIG} changed since the checkpoint: {key} was "
                                f"{saved.get(key)!r}, now {now.get(key)!r}; restore it to resume, or start a new run")


def _check_scheduler(c: _Checker, scheduler, step: int, optimizer) -> None:
    scheduler = c.mapping("the LR schedule", scheduler)
    optimizer = c.mapping("the optimizer", optimizer)
    groups = optimizer.get("param_groups")
    if not isinstance(groups, list) or not groups:
        c.fail("the optimizer's param_groups", "is not a non-empty list")
    for i, group in enumerate(groups):
        group = c.mapping(f"the optimizer's group {i}", group)
        for key in ("lr", "eps", "weight_decay"):
            if key in group and not _number(group[key]):
                c.fail(f"the optimizer's {key} (group {i})", f"is {group[key]!r}, not a finite number")
        if "betas" in group:
            c.numbers(f"the optimizer's betas (group {i})", group["betas"], length=2)
        params = group.get("params")
        if not isinstance(params, list) or not all(_int(p) and p >= 0 for p in params):
            c.fail(f"the optimizer's params (group {i})", "is not a list of parameter indices")
    if not isinstance(optimizer.get("state"), dict):
        c.fail("the optimizer's state", "is not a mapping")
    c.numbers("the LR schedule's base_lrs", scheduler.get("base_lrs"), length=len(groups))
    c.numbers("the LR schedule's last learning rates", scheduler.get("_last_lr"), length=len(groups))
    if scheduler.get("last_epoch") != step:
        c.fail("the LR schedule's last_epoch", f"is {scheduler.get('last_epoch')!r}, not the step {step}")
    c.int_in("the LR schedule's step count", scheduler.get("_step_count"), 0, step + 1)


def _check_schedule(c: _Checker, schedule, step: int, config: dict) -> None:
    schedule = c.mapping("the unfreezing schedule", schedule)
    units = c.int_in("the schedule's num_units", schedule.get("num_units"), 1, 100_000)
    if schedule.get("k") != config.get("k"):
        c.fail("the schedule's k", f"is {schedule.get('k')!r}, not the run's {config.get('k')!r}")
    trainable = schedule.get("trainable")
    if not isinstance(trainable, list) or len(set(map(repr, trainable))) != len(trainable):
        c.fail("the schedule's trainable units", "is not a list of distinct units")
    for unit in trainable:
        c.int_in("a trainable unit", unit, 0, units - 1)
    events = schedule.get("events")
    if not isinstance(events, list) or len(events) > units:
        c.fail("the schedule's events", "is not a list of at most one event per unit")
    for event in events:
        event = c.mapping("an unfreeze event", event)
        c.int_in("an unfreeze event's step", event.get("step"), 0, step)
        for unit in event.get("units") if isinstance(event.get("units"), list) else [None]:
            c.int_in("an unfreeze event's unit", unit, 0, units - 1)
    _check_mt(c, "the schedule's random state", schedule.get("rng"))


def _check_mt(c: _Checker, field: str, value) -> None:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        c.fail(field, "is not (version, state, gauss)")
    version, internal, gauss = value
    c.int_in(f"{field}'s version", version, 0, 3)
    if not isinstance(internal, (list, tuple)) or len(internal) != MT_WORDS or \
            not all(_int(w) and 0 <= w < 2 ** 32 for w in internal[:-1]):
        c.fail(field, f"is not {MT_WORDS} 32-bit words")
    c.int_in(f"{field}'s position", internal[-1], 0, 624)
    if gauss is not None and not _number(gauss):
        c.fail(f"{field}'s gauss", f"is {gauss!r}")


def _check_rng(c: _Checker, rng) -> None:
    import numpy as np
    import torch

    rng = c.mapping("the random states", rng)
    _check_mt(c, "Python's random state", rng.get("python"))
    numpy = rng.get("numpy")
    if not isinstance(numpy, tuple) or len(numpy) != 5 or numpy[0] != "MT19937":
        c.fail("NumPy's random state", "is not an MT19937 state")
    keys = numpy[1]
    if not isinstance(keys, np.ndarray) or keys.shape != (624,):
        c.fail("NumPy's random state", "does not hold 624 words")
    c.int_in("NumPy's random position", numpy[2], 0, 624)
    c.int_in("NumPy's gauss flag", numpy[3], 0, 1)
    if not _number(numpy[4]):
        c.fail("NumPy's cached gauss", f"is {numpy[4]!r}")
    for key in ("torch", *(["cuda"] if "cuda" in rng else [])):
        states = [rng[key]] if key == "torch" else rng[key]
        if not isinstance(states, (list, tuple)) or not all(
                isinstance(s, torch.Tensor) and s.dtype == torch.uint8 and s.dim() == 1 for s in states):
            c.fail(f"the {key} random state", "is not a byte tensor")
    if rng["torch"].numel() != torch.get_rng_state().numel():
        c.fail("the torch random state", f"has {rng['torch'].numel()} bytes, not {torch.get_rng_state().numel()}")


def check_fit(state: dict, run_dir: str | Path, named_params: dict, steps: int, num_units: int,
              param_order: list) -> None:
    """The checkpoint against the built run: ``named_params`` (name -> trainable parameter), ``steps`` the
    budget, ``num_units``, and ``param_order`` (the optimizer's parameters in its order)."""
    import torch

    from .rundir import CHECKPOINT

    c = _Checker(Path(run_dir) / CHECKPOINT)
    c.int_in("step", state["step"], 1, steps)
    weights = state["weights"]
    if set(weights) != set(named_params):
        odd = sorted(set(weights) ^ set(named_params))[0]
        raise UnfreezeError(f"the checkpoint in {run_dir} does not fit this run (its weights and this model's "
                            f"trainable parameters differ: {odd})")
    for name, param in named_params.items():
        value = weights[name]
        if not isinstance(value, torch.Tensor) or value.shape != param.shape or value.dtype != param.dtype:
            raise UnfreezeError(f"the checkpoint in {run_dir} does not fit this run (weight {name}: "
                                f"{getattr(value, 'shape', type(value).__name__)}, the model has {tuple(param.shape)})")
        if not torch.isfinite(value).all():
            c.fail(f"weight {name}", "holds non-finite values")
    if state["schedule"]["num_units"] != num_units:
        c.fail("the schedule's num_units", f"is {state['schedule']['num_units']}, the model has {num_units}")
    groups = state["optimizer"]["param_groups"]
    indices = [i for g in groups for i in g["params"]]
    if sorted(indices) != list(range(len(param_order))):
        c.fail("the optimizer's params", f"do not index this run's {len(param_order)} parameters")
    for index, moments in state["optimizer"]["state"].items():
        if not _int(index) or not 0 <= index < len(param_order):
            c.fail("the optimizer's state", f"names parameter {index!r}")
        moments = c.mapping(f"the optimizer's state of parameter {index}", moments)
        for key, value in moments.items():
            if not isinstance(value, torch.Tensor):
                c.fail(f"the optimizer's {key} of parameter {index}", "is not a tensor")
            if key != "step" and value.shape != param_order[index].shape:
                c.fail(f"the optimizer's {key} of parameter {index}",
                       f"has shape {tuple(value.shape)}, not {tuple(param_order[index].shape)}")
            if not torch.isfinite(value).all():
                c.fail(f"the optimizer's {key} of parameter {index}", "holds non-finite values")
