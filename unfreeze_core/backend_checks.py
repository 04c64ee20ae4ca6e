"""What an adapter backend returns, checked before anything trains.

The engine assumes (docs/plugins.md, "What the engine checks"): there are ``num_units(model.config)`` units
numbered 0..L-1; no parameter is in two units; every parameter that trains is in a unit or the task head
(or is one the backend declares in ``shared_parameters``, trained from step 0 with the head); and a unit
holds adapter weights, not frozen weights of the base model (unless the backend sets
``trains_base_weights``: then a unit may hold weights of the model's body, never of the task head, which
trains from step 0). A backend that breaks one of them is refused with one line naming the unit or
the parameter: ``ValueError``, which the run turns into a line naming the backend's plugin.
"""

from __future__ import annotations


def head_parameter_ids(model) -> set[int]:
    """Parameters of the task head: those outside the model's body (``model.base_model``), looked for
    through a PEFT wrapper (``get_base_model``). Empty when the model has no distinct body."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = getattr(inner, "base_model", inner)
    if body is inner or body is None:
        return set()
    in_body = {id(p) for p in body.parameters()}
    return {id(p) for p in inner.parameters() if id(p) not in in_body}


def set_up(backend, model, **setup_args) -> dict:
    """``backend.setup(model, ...)`` then ``backend.units(model)``, checked by ``check_units`` against the
    parameters the model had before setup (the base weights and the head)."""
    before = {id(p) for p in model.parameters()}
    backend.setup(model, **setup_args)
    units = backend.units(model)
    check_units(backend, model, units, base_ids=before)
    return units


def check_units(backend, model, units: dict, *, base_ids: set[int] | None = None, expected: int | None = None,
                require_grad: bool = True, rest: bool = True) -> None:
    """Raise ValueError (one line) when ``units`` break the engine's assumptions.

    ``base_ids``: ids of the parameters the model had before the backend's setup (None: unknown; then a
    unit's parameter counts as a base weight when it does not require grad). ``expected``: the number of
    units (default ``backend.num_units(model.config)``). ``require_grad``: the model is as setup left it
    (adapters trainable, base frozen), so requires_grad tells what trains; otherwise (a Trainer script, where the
    user may have frozen whole units) a unit may not mix trainable and frozen parameters. ``rest``: also check that every
    trainable parameter is in a unit, the head or ``shared_parameters`` (the engine's own loop; a Trainer
    script may train other parameters from step 0 on purpose).
    """
    names = {id(p): n for n, p in model.named_parameters(remove_duplicate=False)}
    _check_numbering(backend, model, units, expected)
    owner: dict[int, int] = {}
    trains_base = bool(getattr(backend, "trains_base_weights", False))
    head = head_parameter_ids(model) if trains_base else set()
    for unit, params in units.items():
        if not params:
            raise ValueError(f"unit {unit} holds no parameters")
        for name, p in params:
            label = names.get(id(p), name)
            if id(p) not in names:
                raise ValueError(f"unit {unit}: {name} is not a parameter of the model")
            if id(p) in owner and owner[id(p)] != unit:
                raise ValueError(f"units {owner[id(p)]} and {unit} both hold {label}: units must not overlap "
                                 "(a parameter shared by several layers belongs to one unit, or to "
                                 "shared_parameters)")
            owner[id(p)] = unit
            if not trains_base and base_ids is not None and id(p) in base_ids:
                raise ValueError(f"unit {unit} holds {label}, a weight of the base model, not an adapter's "
                                 "(set trains_base_weights = True on a backend that means to train it)")
            if id(p) in head:
                raise ValueError(f"unit {unit} holds {label}, a weight of the task head: the head trains from "
                                 "step 0 and is in no unit (trains_base_weights lets units hold the body's weights)")
            if require_grad and not p.requires_grad:
                raise ValueError(f"unit {unit} holds {label}, a frozen weight outside the adapters "
                                 "(a unit holds the parameters its backend trains)")
        flags = {p.requires_grad for _, p in params}
        if not require_grad and len(flags) > 1:  # adapters trainable beside frozen weights: base weights in the unit
            frozen = next(names.get(id(p), name) for name, p in params if not p.requires_grad)
            raise ValueError(f"unit {unit} holds {frozen}, a frozen weight beside its trainable adapter weights "
                             "(name the adapter's modules, not the layers they wrap)")
    if require_grad and rest:
        _check_trainable(backend, model, names, owner)


def _check_numbering(backend, model, units: dict, expected: int | None) -> None:
    keys = sorted(units)
    if keys != list(range(len(keys))):
        raise ValueError(f"units must be numbered 0..L-1 (bottom layer 0), got {keys}")
    if expected is None:
        config = getattr(model, "config", None)
        expected = backend.num_units(config) if config is not None and hasattr(backend, "num_units") else None
    if expected is not None and len(units) != expected:
        raise ValueError(f"it made {len(units)} units where num_units(model.config) says {expected} "
                         "(override num_units when a unit is not one layer)")


def _check_trainable(backend, model, names: dict, owner: dict) -> None:
    head = head_parameter_ids(model)
    shared_names = set(backend.shared_parameters(model)) if hasattr(backend, "shared_parameters") else set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in owner or id(p) in head or name in shared_names:
            continue
        raise ValueError(f"{name} trains but is in no unit and not the head: put it in a unit, or declare it in "
                         "shared_parameters(model) to train it from step 0 with the head")


__all__ = ["set_up", "check_units", "head_parameter_ids"]
