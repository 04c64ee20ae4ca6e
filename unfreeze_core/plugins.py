"""The plugin manager: entry points loaded one by one, broken plugins recorded, not fatal.

Built-in plugins are found exactly like a third party's: through the entry-point group
``unfreeze``. ``UNFREEZE_LOAD_PLUGINS=a,b`` loads only the named entry points (empty: none).
Nothing here imports torch, so ``unfreeze plugins`` stays fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pluggy

from . import hookspecs
from .errors import UnfreezeError
from .registry import KINDS, Registry

GROUP = "unfreeze"
LOAD_ENV = "UNFREEZE_LOAD_PLUGINS"


@dataclass
class PluginInfo:
    name: str
    version: str | None
    hooks: list[str]
    registers: dict[str, list[str]]
    error: str | None = None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "hooks": self.hooks,
            "registers": self.registers,
            "error": self.error,
        }


@dataclass
class Plugins:
    """Loaded plugins, their registries and the failures met on the way."""

    manager: pluggy.PluginManager
    versions: dict[str, str | None] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def hook(self):
        return self.manager.hook

    def register(self, plugin: object, name: str) -> None:
        """Register an in-process plugin (a module or object with hookimpls), e.g. in a test."""
        self.manager.register(plugin, name=name)
        self.versions[name] = getattr(plugin, "__version__", None)

    def unregister(self, name: str) -> None:
        self.manager.unregister(name=name)
        self.versions.pop(name, None)

    def registries(self, strict: bool = True) -> dict[str, Registry]:
        """Fill one registry per kind by calling every plugin's register hooks.

        strict: a duplicate name or a failing register hook raises; otherwise it is recorded in
        ``failures`` under the plugin's name and the plugin's other registrations are kept.
        """
        registries = {kind: Registry(kind) for kind in KINDS}
        for kind in KINDS:
            caller = getattr(self.manager.hook, f"register_{kind}")
            for impl in caller.get_hookimpls():
                plugin = impl.plugin_name

                def register(name, cls, _plugin=plugin, _registry=registries[kind]):
                    _registry.add(name, cls, _plugin)

                try:
                    impl.function(register=register)
                except Exception as exc:  # one broken plugin must not take the others down
                    if strict:
                        if isinstance(exc, UnfreezeError):
                            raise
                        raise UnfreezeError(f"plugin {plugin!r} failed in register_{kind}: {exc}") from exc
                    self.failures.setdefault(plugin, f"{type(exc).__name__}: {exc}")
        return registries

    def info(self) -> list[PluginInfo]:
        registries = self.registries(strict=False)
        rows = []
        for name in sorted(set(self.versions) | set(self.failures)):
            plugin = self.manager.get_plugin(name)
            hooks = sorted(c.name for c in self.manager.get_hookcallers(plugin) or []) if plugin else []
            registers = {kind: registries[kind].by_plugin(name) for kind in KINDS}
            rows.append(PluginInfo(name, self.versions.get(name), hooks, registers, self.failures.get(name)))
        return rows


def _allowed() -> set[str] | None:
    value = os.environ.get(LOAD_ENV)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def load_plugins() -> Plugins:
    """A fresh plugin manager with every allowed entry point of the group loaded."""
    manager = pluggy.PluginManager(GROUP)
    manager.add_hookspecs(hookspecs)
    plugins = Plugins(manager)
    allowed = _allowed()
    for ep in sorted(entry_points(group=GROUP), key=lambda ep: ep.name):
        if allowed is not None and ep.name not in allowed:
            continue
        version = ep.dist.version if ep.dist else None
        try:
            module = ep.load()
            manager.register(module, name=ep.name)
            plugins.versions[ep.name] = version
        except Exception as exc:  # recorded and shown by `unfreeze plugins`
            plugins.versions[ep.name] = version
            plugins.failures[ep.name] = f"{type(exc).__name__}: {exc}"
    return plugins


_current: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugins, loaded on first use."""
    global _current
    if _current is None:
        _current = load_plugins()
    return _current


def reset_plugins() -> None:
    """Forget the loaded plugins (tests, or after installing a plugin in-process)."""
    global _current
    _current = None
