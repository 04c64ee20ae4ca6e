"""What every driver of the controller resolves from a user's model and names, whatever its loop: the units
(a mapping unit -> modules, a registered backend, or the model's single active ``adapters`` adapter),
registered plugins built from their options, and ŷ from a Hugging Face model's logits. Used by the
Hugging Face Trainer callback (``transformers.py``), your own loop (``loop.py``) and the Lightning callback
(``plugins/unfreeze-lightning``)."""

from __future__ import annotations

from ..errors import UnfreezeError


class LogitsOf:
    """ŷ for a Hugging Face model's outputs: start and end logits (extractive QA) or the logits."""

    def output_distributions(self, outputs):
        start = getattr(outputs, "start_logits", None)
        if start is not None:
            return [start, outputs.end_logits]
        return [outputs.logits]


class ModuleUnits:
    """A backend from a user's mapping unit -> modules (objects or dotted names in ``model``)."""

    def __init__(self, model, mapping: dict):
        names = {id(m): n for n, m in model.named_modules()}
        self.names = {}
        for unit, modules in mapping.items():
            resolved = []
            for module in modules if isinstance(modules, (list, tuple)) else [modules]:
                if isinstance(module, str):
                    resolved.append(module)
                elif id(module) in names:
                    resolved.append(names[id(module)])
                else:
                    raise UnfreezeError(f"unit {unit}: {type(module).__name__} is not a module of the model")
            self.names[int(unit)] = resolved
        if sorted(self.names) != list(range(len(self.names))):
            raise UnfreezeError(f"units must be numbered 0..L-1 (bottom layer 0), got {sorted(self.names)}")

    def unit_modules(self, model):
        try:
            return {u: [model.get_submodule(n) for n in names] for u, names in self.names.items()}
        except AttributeError as exc:
            raise UnfreezeError(f"units: {exc}") from None

    def units(self, model):
        return {u: [(f"{n}.{p_name}", p) for n, m in zip(self.names[u], modules) for p_name, p in m.named_parameters()]
                for u, modules in self.unit_modules(model).items()}


def _registered(kind: str, name: str, options: dict | None):
    from ..options import parse_options
    from ..plugins import get_plugins

    cls = get_plugins().registries()[kind].get(name)
    return cls(parse_options(cls.Options, options, f"{kind[:-1].replace('_', ' ')} {name!r}"))


def _backend(model, units, backend, backend_options, adapter):
    if units is not None:
        return ModuleUnits(model, units)
    if backend is not None:
        made = _registered("adapter_backends", backend, backend_options)
    else:  # the model's active adapter (an adapters model, as AdapterTrainer trains)
        from ..units import TaskAdapterBackend

        if getattr(model, "peft_config", None):
            raise UnfreezeError("the model has PEFT adapters: give backend='peft-lora' (LoRA) or 'peft-ia3' "
                                "(pip install plugins/unfreeze-peft), or units={unit: [modules]}")
        made = TaskAdapterBackend()
        active = getattr(model, "active_adapters", None)
        if active is not None and not hasattr(active, "flatten"):  # not an ``adapters`` model
            raise UnfreezeError("the model has neither adapters nor units: add adapters (adapters.init(model), "
                                "add_adapter, train_adapter) or PEFT's, or give units={unit: [modules]}")
        names = sorted(active.flatten()) if active is not None else []
        if adapter is None and len(names) != 1:
            raise UnfreezeError("give units={unit: [modules]}, backend= or adapter=: the model has "
                                f"{len(names)} active adapters ({', '.join(names) or 'none'})")
        made.adapter_name = adapter or names[0]
        return made
    if adapter is not None:
        made.adapter_name = adapter
    return made


class Parts:
    """What a driver resolved: ``backend``, ``units`` (unit -> named parameters, checked), ``selector``,
    ``estimator`` (None when it is not installed and nothing needs it) and ``settings`` (what ``unfreeze.json``
    records)."""

    def __init__(self, backend, units, selector, estimator, settings):
        self.backend, self.units, self.selector, self.estimator, self.settings = \
            backend, units, selector, estimator, settings


def resolve(model, *, who: str, selector: str, k: int, selector_options: dict | None, units: dict | None,
            backend: str | None, backend_options: dict | None, adapter: str | None, estimator: str | None,
            estimator_options: dict | None, fisher_every: int = 0, fisher_batches: int = 40) -> Parts:
    """The units of ``model`` (checked as the engine checks a Trainer script's: disjoint, adapter weights only),
    the selector and the estimator, by their registered names; one-line ``UnfreezeError`` naming ``who``."""
    from ..backend_checks import check_units
    from ..errors import first_line
    from ..plugins import get_plugins

    made = _backend(model, units, backend, backend_options, adapter)
    try:
        found = made.units(model)
        if not found:
            raise UnfreezeError("the model has no units to unfreeze")
        check_units(made, model, found, require_grad=False, rest=False)
    except ValueError as exc:
        raise UnfreezeError(f"{who}: {first_line(exc)}") from None
    chosen = _registered("selectors", selector, selector_options)
    settings = {"selector": selector, "k": k, "selector_options": dict(selector_options or {}),
                "estimator": estimator, "backend": backend or ("units" if units is not None else "adapter"),
                "units": len(found), "fisher_every": fisher_every, "fisher_batches": fisher_batches}
    scorer = None
    if estimator is not None:
        if estimator in get_plugins().registries()["fisher_estimators"].entries:
            scorer = _registered("fisher_estimators", estimator, estimator_options)
        elif fisher_every:
            raise UnfreezeError(f"fisher_every needs the Fisher estimator {estimator!r}, which is not installed")
    return Parts(made, found, chosen, scorer, settings)
