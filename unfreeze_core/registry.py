"""Typed registries filled by the ``register_*`` hooks."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import DuplicateNameError, UnknownNameError

KINDS = ("selectors", "adapter_backends", "fisher_estimators", "tasks", "launchers")
SINGULAR = {
    "selectors": "selector",
    "adapter_backends": "adapter backend",
    "fisher_estimators": "Fisher estimator",
    "tasks": "task",
    "launchers": "launcher",
}


@dataclass
class Registry:
    """Name -> class for one kind of extension, remembering which plugin gave each name."""

    kind: str
    entries: dict[str, type] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    """Plugins that failed to load (name -> error): an unknown name may be theirs."""

    def add(self, name: str, cls: type, plugin: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"plugin {plugin!r} registered a {SINGULAR[self.kind]} without a name")
        if name in self.entries:
            raise DuplicateNameError(
                f"{SINGULAR[self.kind]} {name!r} is registered by both plugin "
                f"{self.owners[name]!r} and plugin {plugin!r}"
            )
        self.entries[name] = cls
        self.owners[name] = plugin

    def get(self, name: str) -> type:
        try:
            return self.entries[name]
        except KeyError:
            hint = ""
            if self.failed:
                broken = ", ".join(repr(p) for p in sorted(self.failed))
                hint = f" (plugin {broken} failed to load and may provide it: see `unfreeze plugins`)"
            raise UnknownNameError(
                f"unknown {SINGULAR[self.kind]} {name!r}; available: {', '.join(self.names()) or 'none'}{hint}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self.entries)

    def by_plugin(self, plugin: str) -> list[str]:
        return sorted(n for n, owner in self.owners.items() if owner == plugin)
