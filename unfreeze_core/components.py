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
    registries = plugins.registries()
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
    return Components(made["task"], made["adapter"], made["selector"], made.get("fisher"), provenance)
