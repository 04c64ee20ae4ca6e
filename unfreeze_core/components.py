"""Turn a RunConfig into plugin instances: look names up, route and validate options."""

from __future__ import annotations

from dataclasses import dataclass, fields

from .api import AdapterBackend, FisherEstimator, Selector, Task
from .config import RunConfig
from .errors import UnfreezeError
from .options import parse_options
from .plugins import Plugins

KIND_REGISTRY = {"task": "tasks", "adapter": "adapter_backends", "selector": "selectors",
                 "fisher": "fisher_estimators"}


@dataclass
class Components:
    task: Task
    backend: AdapterBackend
    selector: Selector
    estimator: FisherEstimator | None
    provenance: dict[str, dict]
    """kind -> {"name", "plugin", "version"}: what plugins.json records."""
    selector_scores: bool = False
    """The selector scores units with the run's Fisher estimator (it declares an ``estimator`` option)."""


def run_name(config: RunConfig, parts: Components) -> str:
    """The group folder's name: task-adapter-selector, plus the estimator when the selector scores with one."""
    name = f"{config.task}-{config.adapter}-{config.selector}"
    return f"{name}-{config.fisher}" if parts.selector_scores else name


def resolve_estimator(config: RunConfig, selector_cls: type, pairs: list[tuple]) -> bool:
    """A selector whose ``Options`` declare ``estimator`` scores with that estimator: it becomes the run's
    ``--fisher`` (so ``-o fisher.KEY=V`` configures it and plugins.json records it). True for such a selector."""
    if "estimator" not in {f.name for f in fields(selector_cls.Options)}:
        return False
    wanted = (config.options.get("selector") or {}).get("estimator")
    for kind, key, value in pairs:
        if key == "estimator" and kind in (None, "selector"):
            wanted = value
    if wanted is None or wanted == config.fisher:
        return True
    if config.fisher != RunConfig.fisher or config.fisher_every:
        raise UnfreezeError(f"-o estimator={wanted} and --fisher {config.fisher} name different estimators, but a "
                            f"run scores with one (it also drives --fisher-every): give --fisher {wanted}")
    config.fisher = wanted
    return True


def route_options(config: RunConfig, classes: dict[str, type], pairs: list[tuple]) -> None:
    """Put each ``-o key=value`` into the options block of the plugin that declares ``key``."""
    for kind, key, value in pairs:
        if kind is None:
            owners = [k for k, cls in classes.items() if key in {f.name for f in fields(cls.Options)}]
            if not owners:
                known = "; ".join(f"{k} {config_name(config, k)}: {', '.join(f.name for f in fields(cls.Options)) or '-'}"
                                  for k, cls in classes.items())
                raise UnfreezeError(f"-o {key}: unknown option {key!r} (known options: {known})")
            if len(owners) > 1:
                raise UnfreezeError(f"-o {key}: ambiguous, prefix it with one of {', '.join(owners)}")
            kind = owners[0]
        config.options.setdefault(kind, {})[key] = value


def config_name(config: RunConfig, kind: str) -> str:
    return config.fisher if kind == "fisher" else getattr(config, kind)


def build(config: RunConfig, plugins: Plugins, option_pairs: list[tuple] = ()) -> Components:
    plugins.warn_failures()  # a run says when a plugin it may need did not load
    registries = plugins.registries()
    selector_scores = resolve_estimator(config, registries["selectors"].get(config.selector), list(option_pairs))
    classes = {}
    for kind, registry in KIND_REGISTRY.items():
        if kind == "fisher" and not registries[registry].entries and config.fisher_every == 0:
            continue  # no estimator installed: fine until tr(F) is asked for (a selector then gets a clear error)
        classes[kind] = registries[registry].get(config_name(config, kind))
    route_options(config, classes, list(option_pairs))
    made = {kind: cls(parse_options(cls.Options, config.options.get(kind), f"{kind} {config_name(config, kind)!r}"))
            for kind, cls in classes.items()}
    provenance = {}
    for kind in classes:
        name = config_name(config, kind)
        owner = registries[KIND_REGISTRY[kind]].owners[name]
        provenance[kind] = {"name": name, "plugin": owner, "version": plugins.versions.get(owner)}
    return Components(made["task"], made["adapter"], made["selector"], made.get("fisher"), provenance,
                      selector_scores)
