"""Resolution of a RunConfig, once: plugins looked up, ``-o`` options routed to the plugin that declares them
and stored with their declared types, the paper budget checked against the selector's schedule; then the
plugin instances made from the resolved (frozen) configuration.

``resolve`` gives the resolved ``RunConfig`` (what ``config.yaml`` records, ``config.config_yaml``);
``build`` gives the ``Components`` a run uses, ``parts.config`` among them. Nothing changes the
configuration afterwards.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

from .api import AdapterBackend, FisherEstimator, Selector, Task
from .config import PLUGIN_KINDS, RunConfig, freeze, plain
from .errors import UnfreezeError
from .options import parse_options
from .plugins import Plugins, get_plugins

KIND_REGISTRY = {"task": "tasks", "adapter": "adapter_backends", "selector": "selectors",
                 "fisher": "fisher_estimators"}


@dataclass(frozen=True)
class Components:
    config: RunConfig
    """The resolved configuration the instances were made from."""
    task: Task
    backend: AdapterBackend
    selector: Selector
    estimator: FisherEstimator | None
    """The estimator that scores units and tracks tr(F): the selector's own one (``own_estimator``) or the
    run's ``--fisher``."""
    provenance: dict[str, dict]
    """What plugins.json records: kind -> {"name", "plugin", "version", "options"} (options resolved, defaults
    included), and ``scored_by``: the estimator that scored the selector's units, when it scores."""

    @property
    def selector_scores(self) -> bool:
        """The selector scores units with a Fisher estimator (its own or the run's)."""
        return "scored_by" in self.provenance


def run_name(config: RunConfig, parts: Components) -> str:
    """The group folder's name: task-adapter-selector, plus the estimator when the selector scores with one."""
    name = f"{config.task}-{config.adapter}-{config.selector}"
    return f"{name}-{parts.provenance['scored_by']['name']}" if parts.selector_scores else name


def config_name(config: RunConfig, kind: str) -> str:
    return config.fisher if kind == "fisher" else getattr(config, kind)


def _declared(cls: type) -> set[str]:
    return {f.name for f in fields(cls.Options)}


def _classes(config: RunConfig, registries: dict) -> dict[str, type]:
    """kind -> the registered class the configuration names (the estimator only where one can be needed)."""
    classes = {kind: registries[KIND_REGISTRY[kind]].get(config_name(config, kind))
               for kind in ("task", "adapter", "selector")}
    selector = classes["selector"]
    needs_estimator = config.fisher_every or getattr(selector, "scores_with_fisher", False)
    if registries["fisher_estimators"].entries or needs_estimator:
        classes["fisher"] = registries["fisher_estimators"].get(config.fisher)
    return classes


def route_options(config: RunConfig, classes: dict[str, type], pairs: list[tuple]) -> dict[str, dict]:
    """The raw options blocks with each ``-o key=value`` put into the block of the plugin that declares ``key``."""
    blocks = {kind: dict(block or {}) for kind, block in config.options.items()}
    for kind in PLUGIN_KINDS:
        blocks.setdefault(kind, {})
    for kind, key, value in pairs:
        if kind is None:
            owners = [k for k, cls in classes.items() if key in _declared(cls)]
            if not owners:
                known = "; ".join(f"{k} {config_name(config, k)}: {', '.join(sorted(_declared(cls))) or '-'}"
                                  for k, cls in classes.items())
                raise UnfreezeError(f"-o {key}: unknown option {key!r} (known options: {known})")
            if len(owners) > 1:
                raise UnfreezeError(f"-o {key}: ambiguous, prefix it with one of {', '.join(owners)}")
            kind = owners[0]
        blocks[kind][key] = value
    return blocks


def _typed(cls: type, raw: dict, owner: str):
    """The plugin's Options built from ``raw`` (one line naming the bad key) and the given keys with their
    declared types (``'200'`` -> 200), in declaration order (the same setting is the same YAML)."""
    options = parse_options(cls.Options, raw, owner)
    return options, {f.name: plain(getattr(options, f.name)) for f in fields(cls.Options) if f.name in raw}


def resolve(config: RunConfig, plugins: Plugins | None = None, option_pairs=()) -> RunConfig:
    """The resolved configuration: every plugin found, options routed and typed, the budget of a paper task
    checked; frozen (options read-only, lists tuples). Resolving a resolved configuration gives it back."""
    return _resolve(config, plugins or get_plugins(), list(option_pairs))[0]


def _resolve(config: RunConfig, plugins: Plugins, pairs: list[tuple]):
    from .presets import check_budget

    registries = plugins.registries()
    classes = _classes(config, registries)
    blocks = route_options(config, classes, pairs)
    made, typed = {}, {}
    for kind, block in blocks.items():
        cls = classes.get(kind)
        if cls is None:
            typed[kind] = block  # no estimator installed and none needed: kept as given
            continue
        made[kind], typed[kind] = _typed(cls, block, f"{kind} {config_name(config, kind)!r}")
    resolved = config.replace(options=freeze(typed), seeds=tuple(config.seeds), report_to=tuple(config.report_to))
    check_budget(resolved, classes["selector"](made["selector"]))
    if config.given is None:  # made in code: not validated yet (config_from_values validated the others once)
        resolved.validate()
    return resolved, classes, made, registries


def build(config: RunConfig, plugins: Plugins | None = None, option_pairs=()) -> Components:
    """Resolve ``config`` and make its plugin instances; ``parts.config`` is the resolved configuration."""
    plugins = plugins or get_plugins()
    plugins.warn_failures()  # a run says when a plugin it may need did not load
    resolved, classes, options, registries = _resolve(config, plugins, list(option_pairs))
    made = {kind: cls(options[kind]) for kind, cls in classes.items()}
    provenance = {}
    for kind in classes:
        name = config_name(resolved, kind)
        owner = registries[KIND_REGISTRY[kind]].owners[name]
        provenance[kind] = {"name": name, "plugin": owner, "version": plugins.versions.get(owner),
                            "options": _as_record(options[kind])}
    selector = made["selector"]
    estimator = made.get("fisher")
    own = selector.own_estimator()
    if own is not None:
        estimator = own
        selector_info = provenance["selector"]
        provenance["scored_by"] = {"name": type(own).__name__, "class": f"{type(own).__module__}.{type(own).__qualname__}",
                                   "plugin": selector_info["plugin"], "version": selector_info["version"],
                                   "options": _as_record(own.options), "own_estimator_of": selector_info["name"]}
    elif selector.scores_with_fisher and "fisher" in provenance:
        provenance["scored_by"] = dict(provenance["fisher"])
    return Components(resolved, made["task"], made["adapter"], selector, estimator, provenance)


def _as_record(options) -> dict:
    """An Options instance as JSON-able values (a value JSON cannot hold is written as its repr)."""
    import json

    values = plain(dataclasses.asdict(options)) if dataclasses.is_dataclass(options) else {}
    return json.loads(json.dumps(values, default=repr))
