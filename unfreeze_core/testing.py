"""Conformance checks a plugin author calls from their own tests: one per plugin kind.

    from unfreeze_core.testing import check_selector

    def test_my_selector_conforms():
        check_selector(MySelector)

Each check builds the plugin as unfreeze does (``cls(parse_options(cls.Options, options))``), drives it
through what the engine asks of its kind on something small (the ``tiny`` random model, the embedded
world's data), and raises ``AssertionError`` saying which promise of docs/plugins.md was broken. They
need no installed plugin of another kind except where said (a backend for ``check_estimator`` is built in
here; ``check_launcher``'s cells use the ``lora`` backend and ``standard`` selector unless ``settings`` say
otherwise). Every built-in plugin passes them (each distribution's plugins/<name>/tests/).
"""

from __future__ import annotations

import math
import random
import tempfile
from pathlib import Path

from .options import parse_options
from .rundir import ADAPTER, RunDir


def make(cls, options: dict | None = None):
    """``cls`` built as unfreeze builds a plugin: its ``Options`` filled from ``options`` (as ``-o`` gives them)."""
    return cls(parse_options(cls.Options, options, cls.__name__))


# -- selectors -----------------------------------------------------------------------------------------------


def stand_in_fisher(seed: int):
    """A tr(F) service for testing a selector without a model: ``fisher(batches=40, estimator=None)`` gives
    each unit a score drawn from a generator seeded by ``seed`` (the same scores for the same seed)."""

    def fisher(batches: int = 40, estimator=None, *, num_units: int):
        rng = random.Random(seed)
        return {u: rng.random() for u in range(num_units)}

    return fisher


def selector_plan(selector, num_units: int, k: int, seed: int = 1) -> list[dict]:
    """The events of a whole run (k·L + 1 steps) with the services a selector may call: ``ctx.fisher`` (a
    stand-in, ``stand_in_fisher``) and ``ctx.train_batches`` (no batches)."""
    from .schedule import Schedule

    schedule = Schedule(selector, num_units, k, seed)
    for step in range(k * num_units + 1):
        fisher = stand_in_fisher(seed * 1000 + step)
        schedule.advance(step, fisher=lambda batches=40, estimator=None: fisher(batches, estimator,
                                                                               num_units=num_units),
                         train_batches=lambda n: iter(()))
    return schedule.events


def check_selector(cls, options: dict | None = None, *, sizes=(1, 4, 8), k: int = 2, seed: int = 1,
                   every_unit: bool = True) -> None:
    """For each number of units the options fit (``check`` refuses the others with ValueError): no unit is
    picked twice or out of range, every unit is unfrozen within the k·L steps (``every_unit``; a selector
    that trains a subset, like ``surgical``, passes ``every_unit=False``), events fall on multiples of k
    (all at step 0 when ``static``), no event comes after the selector's declared
    ``schedule_extent(k, L)`` (the budget rule trains a run for extent + 1 steps: a later event would
    unfreeze a unit the budget never trains), and the same seed gives the same plan (``ctx.rng`` is the
    only randomness). Services a selector may call (``ctx.fisher``, ``ctx.train_batches``) are stand-ins."""
    for num_units in sizes:
        try:
            make(cls, options).check(num_units)
        except ValueError:
            continue  # options that do not fit this many units are refused up front: fine
        events = selector_plan(make(cls, options), num_units, k, seed)
        picked = [u for e in events for u in e["units"]]
        assert len(set(picked)) == len(picked), f"{cls.__name__} with {num_units} units picked a unit twice: {picked}"
        assert all(isinstance(u, int) and 0 <= u < num_units for u in picked), \
            f"{cls.__name__} with {num_units} units picked {picked}: units are ints in 0..{num_units - 1}"
        if every_unit:
            assert sorted(picked) == list(range(num_units)), \
                f"{cls.__name__} with {num_units} units unfroze {sorted(picked)} within k·L: each unit is expected"
        assert all(e["step"] % k == 0 and e["step"] <= k * num_units for e in events), \
            f"{cls.__name__}: events at steps {[e['step'] for e in events]}, not multiples of k within k·L"
        if getattr(cls, "static", False):
            assert {e["step"] for e in events} <= {0}, f"static {cls.__name__} decided after step 0"
        extent = make(cls, options).schedule_extent(k, num_units)
        late = [e["step"] for e in events if e["step"] > extent]
        assert not late, (f"{cls.__name__} with {num_units} units, k {k}: unfreezing at step {late[0]}, after its "
                          f"declared schedule_extent {extent} (a budget of extent + 1 steps would never train it)")
        again = selector_plan(make(cls, options), num_units, k, seed)
        assert [e["units"] for e in again] == [e["units"] for e in events], \
            f"{cls.__name__} gave another plan for the same seed: draw randomness from ctx.rng only"


# -- adapter backends ----------------------------------------------------------------------------------------


def build_model(backend, *, model: str = "tiny", task=None):
    """The engine's model for ``backend`` (an instance): ``model`` loaded as ``unfreeze run --model`` loads it,
    the task's head added (default: the world's NLI), ``backend.setup`` run and its units checked as the
    engine checks them (``backend_checks``: a broken one raises ``ValueError``, one line). Returns
    ``(model, tokenizer, units)``: the model with its head and adapters, its tokenizer, and unit -> named
    parameters."""
    from .backend_checks import set_up
    from .models import load_model

    if task is None:
        from .tasks.classification import NLI

        task = NLI()
    built, tokenizer = load_model(model)
    task.add_head(built)
    units = set_up(backend, built, train_language=task.train_language, languages=task.languages(), model_name=model)
    return built, tokenizer, units


def check_backend(cls, options: dict | None = None, *, model: str = "tiny", task=None) -> dict:
    """A backend passes the engine's checks on ``model`` (units = ``num_units(config)``, disjoint, adapter
    weights only, every trainable parameter in a unit or the head), ``unit_modules`` holds the units'
    parameters, a forward pass works with every unit frozen and moves the loss through each unit when it
    is trainable, ``activate_language`` takes every language, and ``save`` writes into a folder that
    exists. Returns the units. A broken promise raises ``AssertionError`` naming it, the engine's own checks
    included (``build_model`` raises their ``ValueError``)."""
    import torch

    backend = make(cls, options)
    try:
        built, tokenizer, units = build_model(backend, model=model, task=task)
    except ValueError as exc:
        raise AssertionError(f"{cls.__name__}: {exc}") from exc
    modules = backend.unit_modules(built)
    assert sorted(modules) == sorted(units), f"unit_modules has units {sorted(modules)}, units has {sorted(units)}"
    for unit, params in units.items():
        held = {id(p) for m in modules[unit] for p in m.parameters()}
        missing = [name for name, p in params if id(p) not in held]
        assert not missing, f"unit {unit}: {missing[0]} is in no module of unit_modules({unit})"
    inputs = tokenizer(["a small check"], ["of a backend"], return_tensors="pt")
    built.eval()
    for unit, params in units.items():
        for _, p in params:
            p.requires_grad_(True)
        out = built(**inputs)
        logits = out.logits if hasattr(out, "logits") else out[0]
        grads = torch.autograd.grad(logits.float().logsumexp(-1).sum(), [p for _, p in params], allow_unused=True)
        assert any(g is not None for g in grads), f"unit {unit}'s parameters are not on the forward pass"
    for lang in ["en"]:
        backend.activate_language(built, lang)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / ADAPTER
        target.mkdir()
        backend.save(built, target)
        assert any(target.iterdir()), "save wrote nothing"
    return units


# -- Fisher estimators ---------------------------------------------------------------------------------------


class _Bottleneck:
    """A bottleneck adapter (``adapters`` seq_bn) in every layer: the backend ``check_estimator`` measures on."""

    adapter_name = "task"

    def setup(self, model, **_):
        model.add_adapter(self.adapter_name, config="seq_bn")
        model.train_adapter(self.adapter_name)

    def units(self, model):
        from .units import adapter_units

        return adapter_units(model, self.adapter_name)

    def unit_modules(self, model):
        from .units import adapter_unit_modules

        return adapter_unit_modules(model, self.adapter_name)

    def num_units(self, config):
        return config.num_hidden_layers


def check_estimator(cls, options: dict | None = None, *, batches: int = 2, batch_size: int = 4) -> dict[int, float]:
    """An estimator returns one finite, non-negative float per unit, changes no weight, and gives the same
    values for the same generator seed (the engine restores requires_grad flags and ``.grad`` around it).
    Returns the scores."""
    import torch

    from .fisher import fisher_scores
    from .tasks.classification import NLI

    task = NLI(NLI.Options(train_limit=batches * batch_size))
    backend = _Bottleneck()
    torch.manual_seed(0)
    model, tokenizer, units = build_model(backend, task=task)
    data = task.train_dataset(tokenizer)
    collate = task.collate(tokenizer)
    sets = [collate([data[i] for i in range(b * batch_size, (b + 1) * batch_size)]) for b in range(batches)]
    before = {n: (p.detach().clone(), p.requires_grad) for n, p in model.named_parameters()}
    runs = []
    for _ in range(2):
        generator = torch.Generator().manual_seed(5)
        runs.append(fisher_scores(model, backend, task, make(cls, options), sets, generator, in_place=True))
    scores = runs[0]
    assert sorted(scores) == sorted(units), f"scores for units {sorted(scores)}, expected {sorted(units)}"
    for unit, value in scores.items():
        assert isinstance(value, float) and math.isfinite(value) and value >= 0, f"unit {unit}: tr(F) = {value!r}"
    assert runs[0] == runs[1], "the same generator seed gave other values: draw ŷ with the generator given"
    for name, p in model.named_parameters():
        weight, flag = before[name]
        assert torch.equal(p.detach(), weight), f"{name} changed: an estimator must not change a weight"
        assert p.requires_grad == flag, f"{name}: requires_grad changed"
    return scores


# -- tasks ------------------------------------------------------------------------------------------------------


def check_task(cls, options: dict | None = None, *, model: str = "tiny", batch_size: int = 4) -> dict:
    """A task gives its languages (train language first), a head, training features with labels that collate
    into a batch the model takes, ``output_distributions`` of shape [B, C] per head, and scores in the train
    language with its ``metric`` among them; a shardable task's two shards merge into the whole's scores.
    Returns the scores."""
    import torch

    from .models import load_model

    task = make(cls, options)
    languages = task.languages()
    assert languages and languages[0] == task.train_language, \
        f"languages() must start with the train language {task.train_language!r}, got {languages}"
    torch.manual_seed(0)
    built, tokenizer = load_model(model)
    task.add_head(built)
    data = task.train_dataset(tokenizer)
    assert len(data) > 0, "train_dataset is empty"
    batch = task.collate(tokenizer)([data[i] for i in range(min(batch_size, len(data)))])
    assert hasattr(batch, "items") and all(hasattr(v, "shape") for v in batch.values()), \
        "collate must give a mapping of tensors"
    built.eval()
    with torch.no_grad():
        from .fisher import model_inputs

        dists = task.output_distributions(built(**model_inputs(batch)))
    assert dists and all(d.dim() == 2 for d in dists), "output_distributions must be [B, C] logits per head"
    scores = task.evaluate(built, tokenizer, task.train_language, batch_size=8, device="cpu")
    assert task.metric in scores, f"evaluate gave {sorted(scores)}, without the task's metric {task.metric!r}"
    if task.shardable:
        parts = [task.evaluate_shard(built, tokenizer, task.train_language, shard=(i, 2), batch_size=8, device="cpu")
                 for i in range(2)]
        merged = task.merge_shards(parts, task.train_language)
        assert merged[task.metric] == scores[task.metric], "two shards merged differ from the whole evaluation"
    return scores


# -- launchers --------------------------------------------------------------------------------------------------


def check_launcher(cls, options: dict | None = None, *, folder: str | Path | None = None,
                   settings: dict | None = None) -> dict[str, list]:
    """A launcher runs a good cell to ``done`` (its run folder then holds results.json) and reports a bad one
    ``failed`` with a one-line error; each job is reported ``running`` (after ``pending``, if the launcher
    queues) before its last state. ``folder``:
    where the cells' run folders go (default: a temporary folder). Returns the states reported per job."""
    from .cell import write_config
    from .config import RunConfig
    from .grid import Resources
    from .launchers import Job

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(folder or tmp)
        good = RunConfig(model="tiny", adapter="lora", selector="standard", steps=2, batch_size=4,
                         checkpoint_every=0, log_every=1, seeds=[1], threads=1).as_dict()
        good["options"]["task"] = {"train_limit": 8, "eval_limit": 4, "languages": ["en"]}
        good.update(settings or {})
        bad = {**good, "selector": "no-such-selector"}
        jobs = []
        for name, values in (("good", good), ("bad", bad)):
            run_dir = root / name / "seed1"
            write_config(run_dir, {**values, "output_dir": str(root)})
            jobs.append(Job(id=name, run_dir=run_dir, resources=Resources(), log=root / "logs" / f"{name}.log",
                            sweep_dir=root))
        states: dict[str, list] = {"good": [], "bad": []}
        make(cls, options).launch(jobs, lambda job_id, state, error, job=None: states[job_id].append((state, error)))
        for job_id, seen in states.items():
            assert "running" in [state for state, _ in seen[:-1]], \
                f"job {job_id}: states {seen}; 'running' is reported before the last state"
        assert states["good"][-1] == ("done", None), f"the good cell ended {states['good'][-1]}"
        assert RunDir(root / "good" / "seed1").finished(), "the good cell left no results.json"
        state, error = states["bad"][-1]
        assert state == "failed" and error and "\n" not in error, f"the bad cell ended {state!r} with {error!r}"
        return states


REGISTER_HOOKS = ("register_selectors", "register_adapter_backends", "register_fisher_estimators", "register_tasks",
                  "register_launchers")


def registrations(plugin) -> dict[str, dict[str, type]]:
    """What a plugin module (or object with ``@hookimpl`` methods) registers, per hook, without installing it:
    ``{"register_selectors": {"standard": Standard, ...}}``. A plugin's own tests check every class it registers."""
    found: dict[str, dict[str, type]] = {}
    for hook in REGISTER_HOOKS:
        register_all = getattr(plugin, hook, None)
        if register_all is not None:
            names: dict[str, type] = {}
            register_all(lambda name, cls, *rest, **kw: names.__setitem__(name, cls))
            found[hook] = names
    return found


def world_grid(folder: str | Path, name: str = "g", selectors=("standard", "topdown"), seeds=(1, 2), steps: int = 10,
               **extra) -> Path:
    """A small grid file on the embedded world (short budget, tiny evaluation) in ``folder``: what a launcher's
    end-to-end test runs with ``unfreeze sweep``. ``extra`` settings are added at the grid's top level."""
    import yaml

    grid = {"name": name, "task": "nli", "model": "world", "adapter": "madx", "steps": steps, "lr": 1e-3,
            "batch_size": 8, "threads": 1, "log_every": 5, "checkpoint_every": 5, "seeds": list(seeds),
            "options": {"task": {"eval_limit": 8, "train_limit": 64, "languages": ["en", "qa"]}},
            "axes": {"selector": {s: ({} if s == "standard" else {"k": 1}) for s in selectors}}, **extra}
    path = Path(folder) / f"{name}.yaml"
    path.write_text(yaml.safe_dump(grid, sort_keys=False))
    return path


def unit_snapshots(units):
    """Copies of every unit's weights (``units`` as ``UnfreezeCallback.units``, ``Unfreezing.units`` or
    ``UnfreezeFinetuning.units`` have them) before the first update and after each update, in
    ``taken[updates done][unit]`` (a list of tensors). The object returned is a ``transformers.TrainerCallback``
    (a Trainer takes the copies itself: ``callbacks=[snaps]``); from any other loop call
    ``snaps.record(updates_done)`` before the first update (0) and after each. Its methods:
    ``snaps.moved_while_frozen(events)`` lists ``(unit, update)`` where a unit changed before its unfreeze step
    (``schedule.json``'s events), which must stay empty; ``snaps.moved_after(events)`` lists the units that
    changed once unfrozen; ``snaps.same(unit, a, b)`` whether a unit had the same weights after ``a`` updates
    as after ``b``."""
    import torch
    from transformers import TrainerCallback

    def same(a, b) -> bool:
        return all(torch.equal(x, y) for x, y in zip(a, b))

    class UnitSnapshots(TrainerCallback):
        def __init__(self):
            self.taken = {}

        def take(self):
            return {u: [p.detach().clone() for _, p in params] for u, params in units.items()}

        def record(self, done: int) -> None:
            """The units' weights after ``done`` updates (0: before the first)."""
            self.taken[done] = self.take()

        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 0:
                self.taken[0] = self.take()

        def on_step_end(self, args, state, control, **kwargs):
            self.taken[state.global_step] = self.take()

        def same(self, unit, a: int, b: int) -> bool:
            """Whether ``unit`` had the same weights after ``a`` updates as after ``b``."""
            return same(self.taken[a][unit], self.taken[b][unit])

        def moved_while_frozen(self, events) -> list:
            at = {u: e["step"] for e in events for u in e["units"]}
            return [(u, done) for u, step in at.items() for done in range(1, step + 1) if not self.same(u, done, 0)]

        def moved_after(self, events) -> list:
            at = {u: e["step"] for e in events for u in e["units"]}
            last = max(self.taken)
            return sorted(u for u, step in at.items() if step < last and not self.same(u, last, step))

    return UnitSnapshots()


__all__ = ["make", "stand_in_fisher", "selector_plan", "check_selector", "build_model", "check_backend", "check_estimator", "check_task",
           "check_launcher", "registrations", "world_grid", "unit_snapshots"]
