"""The plugin manager: entry points loaded one by one, broken plugins recorded, not fatal.

Built-in plugins are found exactly like a third party's: through the entry-point group
``unfreeze``. ``UNFREEZE_LOAD_PLUGINS=a,b`` loads only the named entry points (empty: none).
Nothing here imports torch, so ``unfreeze plugins`` stays fast.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pluggy

from . import hookspecs
from .errors import UnfreezeError, first_line
from .registry import KINDS, Registry

GROUP = "unfreeze"
LOAD_ENV = "UNFREEZE_LOAD_PLUGINS"
DEBUG_ENV = "UNFREEZE_DEBUG"
CORE_PACKAGES = ("unfreeze_core", "unfreeze_cli")
"""Never blamed as a whole: a built-in plugin inside them is known by its own package."""


HEAVY_MODULES = ("torch", "transformers", "adapters", "datasets", "accelerate", "tensorflow", "jax", "pandas",
                 "sklearn", "scipy")
"""Top-level modules whose import at a plugin's module top makes ``unfreeze plugins`` slow."""


@dataclass
class PluginInfo:
    name: str
    version: str | None
    hooks: list[str]
    registers: dict[str, list[str]]
    error: str | None = None
    distribution: str | None = None
    """The distribution (``pip uninstall`` name) providing the entry point; None for in-process plugins."""
    import_seconds: float | None = None
    """How long importing the entry point's module took (None: not loaded from an entry point)."""
    heavy_imports: list[str] = field(default_factory=list)
    """Heavy modules (``HEAVY_MODULES``) first imported while loading this plugin."""

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": self.hooks,
            "registers": self.registers,
            "error": self.error,
            "import_seconds": self.import_seconds,
            "heavy_imports": self.heavy_imports,
        }


@dataclass
class Plugins:
    """Loaded plugins, their registries and the failures met on the way."""

    manager: pluggy.PluginManager
    versions: dict[str, str | None] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    distributions: dict[str, str] = field(default_factory=dict)
    import_seconds: dict[str, float] = field(default_factory=dict)
    heavy_imports: dict[str, list[str]] = field(default_factory=dict)
    warned: bool = False

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
        registries = {kind: Registry(kind, failed=self.failures) for kind in KINDS}
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

    def info(self, registries: dict[str, Registry] | None = None) -> list[PluginInfo]:
        """One row per plugin; ``registries``: those of ``registries(strict=False)`` when the caller has them."""
        registries = registries or self.registries(strict=False)
        rows = []
        for name in sorted(set(self.versions) | set(self.failures)):
            plugin = self.manager.get_plugin(name)
            hooks = sorted(c.name for c in self.manager.get_hookcallers(plugin) or []) if plugin else []
            registers = {kind: registries[kind].by_plugin(name) for kind in KINDS}
            rows.append(PluginInfo(name, self.versions.get(name), hooks, registers, self.failures.get(name),
                                   self.distributions.get(name), self.import_seconds.get(name),
                                   self.heavy_imports.get(name, [])))
        return rows

    def warn_failures(self, stream=None) -> None:
        """One ``Warning:`` line on stderr per plugin that failed to load (once per process)."""
        if self.warned or not self.failures:
            return
        self.warned = True
        stream = stream or sys.stderr
        for name, error in sorted(self.failures.items()):
            dist = self.distributions.get(name)
            where = f" (from {dist})" if dist else ""
            stream.write(f"Warning: plugin {name!r}{where} failed to load: {first_line(error)}"
                         f" - see `unfreeze plugins`\n")


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
        plugins.versions[ep.name] = version
        if ep.dist is not None:
            plugins.distributions[ep.name] = ep.dist.metadata["Name"] or ep.dist.name
        before = set(sys.modules)
        start = time.perf_counter()
        try:
            module = ep.load()
            manager.register(module, name=ep.name)
        except Exception as exc:  # recorded and shown by `unfreeze plugins`
            plugins.failures[ep.name] = f"{type(exc).__name__}: {exc}"
            if os.environ.get(DEBUG_ENV):  # the import's traceback, for the plugin's author
                sys.stderr.write(f"plugin {ep.name!r} failed to import:\n{traceback.format_exc()}")
        finally:
            plugins.import_seconds[ep.name] = time.perf_counter() - start
            plugins.heavy_imports[ep.name] = sorted(m for m in set(sys.modules) - before if m in HEAVY_MODULES)
    for name in sorted((allowed or set()) - set(plugins.versions)):
        plugins.failures[name] = f"missing: no installed plugin is named {name!r} (named in {LOAD_ENV})"
    return plugins


# -- naming the plugin an unexpected exception came from --------------------------------------------------


def _package_of(module_name: str, is_package: bool) -> str:
    """The package a plugin's code lives in; a built-in plugin inside unfreeze_core is its own module's package."""
    package = module_name if is_package else module_name.rpartition(".")[0] or module_name
    return module_name if package in CORE_PACKAGES else package


def plugin_packages(plugins: "Plugins") -> dict[str, str]:
    """Module prefix -> plugin name: every registered plugin's package and the packages of the classes it
    registered."""
    found = {}
    for name, plugin in plugins.manager.list_name_plugin():
        if plugin is None:
            continue
        module = plugin if isinstance(plugin, type(sys)) else sys.modules.get(type(plugin).__module__)
        if module is not None:
            found.setdefault(_package_of(module.__name__, hasattr(module, "__path__")), name)
    try:
        registries = plugins.registries(strict=False)
    except Exception:  # noqa: BLE001 - naming the culprit must never fail itself
        registries = {}
    for registry in registries.values():
        for entry, cls in registry.entries.items():
            found.setdefault(_package_of(cls.__module__, False), registry.owners[entry])
    return found


def blame(exc: BaseException, plugins: "Plugins | None" = None) -> str | None:
    """One line naming the plugin and the hook or method an unexpected exception was raised in (the innermost
    frame of the traceback that is a plugin's code), e.g. ``plugin 'selectors' failed in FUN.select:
    RuntimeError: boom``; None when no plugin's code is in the traceback (then it is unfreeze's own bug)."""
    plugins = plugins or _current
    if plugins is None:
        return None
    packages = plugin_packages(plugins)
    culprit = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        module = frame.f_globals.get("__name__", "")
        for prefix, name in packages.items():
            if module == prefix or module.startswith(prefix + "."):
                culprit = name, getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
    if culprit is None:
        return None
    name, where = culprit[0], culprit[1].rsplit("<locals>.", 1)[-1]  # a class made in a function: its own name
    return f"plugin {name!r} failed in {where}: {type(exc).__name__}: {first_line(exc, '')}".rstrip(": ")


def describe_unexpected(exc: BaseException) -> str:
    """The one line for an exception unfreeze did not foresee: the failing plugin and hook when a plugin
    raised it, else a bug of unfreeze to report."""
    return blame(exc) or (f"unexpected {type(exc).__name__}: {first_line(exc, '')} (a bug: please report it; "
                          f"{DEBUG_ENV}=1 shows the traceback)")


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
