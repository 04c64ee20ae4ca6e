"""The embedded offline multilingual world: six languages (English and five invented ones),
a tiny XLM-R-style encoder, MAD-X language adapters and three tasks in the hub schemas.

Everything a run needs is shipped in `artifacts/` (built once by `unfreeze world build`);
a run never pretrains. No torch import here: heavy imports live inside functions.
"""

from __future__ import annotations

import json
from pathlib import Path

from .generator import GRAMMAR, LANGUAGES
from .tasks import TASKS

__all__ = ["LANGUAGES", "TASKS", "artifacts_dir", "model_path", "lang_adapter_path", "data_dir",
           "manifest", "language_info"]


def artifacts_dir() -> Path:
    """The shipped package-data folder (`unfreeze_core/world/artifacts/`)."""
    return Path(__file__).resolve().parent / "artifacts"


def model_path(root: Path | None = None) -> Path:
    """A plain XLM-R checkpoint (safetensors) plus its fast tokenizer."""
    return Path(root or artifacts_dir()) / "model"


def lang_adapter_path(lang: str, root: Path | None = None) -> Path:
    """The `seq_bn_inv` language adapter of `lang`, loadable with `model.load_adapter(path, load_as=lang)`."""
    if lang not in LANGUAGES:
        raise KeyError(f"unknown world language {lang!r}; known: {', '.join(LANGUAGES)}")
    return Path(root or artifacts_dir()) / "adapters" / lang


def data_dir(task: str, root: Path | None = None) -> Path:
    """`<data_dir>/<lang>/<split>.jsonl` in the hub schema of `task` ("nli", "copa" or "qa")."""
    if task not in TASKS:
        raise KeyError(f"unknown world task {task!r}; known: {', '.join(TASKS)}")
    return Path(root or artifacts_dir()) / "data" / task


def manifest(root: Path | None = None) -> dict:
    """The build manifest: seed, knobs, sizes, timings and sha256 of every artefact."""
    return json.loads((Path(root or artifacts_dir()) / "manifest.json").read_text(encoding="utf-8"))


def language_info() -> list[dict]:
    """Code, name, script and word order of every language."""
    return [{"code": g.code, "name": g.name, "script": g.script, "order": g.order} for g in GRAMMAR.values()]
