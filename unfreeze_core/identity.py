"""A run's identity: everything that made its numbers, and nothing that did not.

``run_identity(config, parts)`` is what ``results.json`` records as ``settings`` (flat) and hashes into its
``fingerprint``; ``report`` groups seeds by it, and ``unfreeze run`` puts a new seed beside the earlier seeds
of the same identity. It holds:

- every run setting that changes what is computed (not ``output_dir``, ``threads``, ``log_every``,
  ``checkpoint_every``, ``report_to``, the seed);
- of the settings only some plugins read (``PLUGIN_READ``: ``k``, ``fisher``, ``fisher_batches``), those a
  plugin declares it uses (``Plugin.settings_used``; ``--fisher-every`` tracking uses the Fisher ones):
  ``standard`` with k 10 and with k 50 is one run;
- every option of every plugin the run uses, **resolved** (defaults included, ``plugins.json``'s values):
  ``-o r=8`` where 8 is the default is the same run as no ``-o``, and a default changed between two seeds
  makes two runs. Options a plugin declares unused given the others (``Plugin.unused_options``) are left out;
  the estimator's options only when the estimator is used;
- the version of each plugin distribution used (``version.<plugin>``) and of unfreeze itself;
- the data: a hash of the files a task reads (``data.sha256``), or the hub revisions (``Task.data_identity``);
- the base model: the embedded world's manifest hash, a local folder's file hash, a hub id's cached commit
  (``model_identity``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from .config import plain

PLUGIN_READ = ("k", "fisher", "fisher_batches")
"""Run settings that only the plugins that declare them read (``Plugin.settings_used``)."""
BOOKKEEPING = ("output_dir", "checkpoint_every", "threads", "log_every", "batch_split", "report_to", "seeds",
               "given")
"""Run settings that do not change what a run computes (where it writes, how often it logs or saves)."""
KINDS = ("task", "adapter", "selector", "fisher")

_HASHES: dict[tuple, str] = {}


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (remembered per path, size and mtime within a process)."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        from .digest import sha256

        _HASHES[key] = sha256(path)
    return _HASHES[key]


def files_sha256(files: dict[str, Path]) -> str:
    """One short hash of named files' contents: name -> file (the names are part of it)."""
    text = json.dumps({name: file_sha256(path) for name, path in sorted(files.items())}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_identity(name: str) -> dict:
    """What the base model ``name`` is, beyond its name: the world's manifest hash (it lists the sha256 of
    every artefact of that build), a local folder's config and weights hashed, a hub id's cached commit
    (``unknown`` when it is not in the local cache). ``tiny*`` models are built from code: {}."""
    from .models import TINY_KINDS, resolve

    if name in TINY_KINDS:
        return {}
    if name == "world":
        from . import world

        return {"model.manifest": file_sha256(world.artifacts_dir() / "manifest.json")[:16]}
    folder = Path(resolve(name))
    if folder.is_dir():
        files = {p.name: p for p in sorted(folder.iterdir()) if p.is_file()
                 and (p.name == "config.json" or p.suffix in (".safetensors", ".bin"))}
        return {"model.sha256": files_sha256(files)}
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
        commit = Path(cached).parent.name if isinstance(cached, str) else "unknown"
    except Exception:  # noqa: BLE001 - no cache, an odd id: the revision is unknown, not an error
        commit = "unknown"
    return {"model.revision": commit}


def _record(provenance: dict, kind: str, instance) -> dict:
    options = provenance.get(kind, {}).get("options") or {}
    unused = instance.unused_options() if instance is not None else frozenset()
    return {f"{kind}.{name}": value for name, value in options.items() if name not in unused}


def used_settings(config, parts) -> set[str]:
    """Which of ``PLUGIN_READ`` the run's plugins (and --fisher-every tracking) use."""
    used: set[str] = set()
    for plugin in (parts.task, parts.backend, parts.selector):
        used |= set(plugin.settings_used())
    if config.fisher_every:
        used |= {"fisher", "fisher_batches"}
    return used


def run_identity(config, parts) -> dict:
    """The run's identity (see the module's docstring) as flat settings: ``kind.option`` for plugin options,
    values as JSON gives them back. ``config`` is the resolved configuration, ``parts`` its Components."""
    values = config.as_dict()
    used = used_settings(config, parts)
    flat = {key: value for key, value in values.items()
            if key not in BOOKKEEPING and key != "options" and (key not in PLUGIN_READ or key in used)}
    instances = {"task": parts.task, "adapter": parts.backend, "selector": parts.selector}
    own = parts.selector.own_estimator()
    if "fisher" in used and "fisher" in parts.provenance:
        instances["fisher"] = parts.estimator if own is None else None
    provenance = parts.provenance
    for kind, instance in instances.items():
        flat.update(_record(provenance, kind, instance))
    if own is not None and "scored_by" in provenance:
        flat.update(_record(provenance, "scored_by", own))
    flat["version.unfreeze"] = _core_version()
    for kind in [*instances, *(["scored_by"] if own is not None else [])]:
        info = provenance.get(kind) or {}
        if info.get("plugin") is not None:
            flat[f"version.{info['plugin']}"] = info.get("version")
    flat.update(parts.task.data_identity())
    flat.update(model_identity(config.model))
    return json.loads(json.dumps(plain(flat), default=str))


def without_unused(settings: dict) -> dict:
    """An older run's flat settings (written before identities) without the ``PLUGIN_READ`` settings, and
    estimator options, that its selector does not use, asked of the installed selector built with the run's
    options; unchanged when the selector is not installed or its options no longer build."""
    if "version.unfreeze" in settings or not isinstance(settings.get("selector"), str):
        return settings  # a run's identity already
    options = {k.split(".", 1)[1]: v for k, v in settings.items() if k.startswith("selector.")}
    used = _selector_uses(settings["selector"], json.dumps(options, sort_keys=True, default=str))
    if used is None:
        return settings
    used = set(used)
    if settings.get("fisher_every"):
        used |= {"fisher", "fisher_batches"}
    return {k: v for k, v in settings.items()
            if not (k in PLUGIN_READ and k not in used) and not (k.startswith("fisher.") and "fisher" not in used)}


@functools.lru_cache(maxsize=256)
def _selector_uses(name: str, options: str) -> frozenset[str] | None:
    try:
        from .options import parse_options
        from .plugins import get_plugins

        cls = get_plugins().registries()["selectors"].get(name)
        return frozenset(cls(parse_options(cls.Options, json.loads(options), "selector")).settings_used())
    except Exception:  # noqa: BLE001 - not installed, or an option it no longer has: keep what was recorded
        return None


def _core_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("unfreeze")
    except PackageNotFoundError:
        from . import __version__

        return __version__


def fingerprint(settings: dict) -> str:
    """A short hash of flat settings: equal settings, equal fingerprint."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


__all__ = ["PLUGIN_READ", "BOOKKEEPING", "run_identity", "without_unused", "model_identity", "used_settings", "fingerprint",
           "file_sha256", "files_sha256"]
