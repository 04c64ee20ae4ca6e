"""The paper's presets (package data: ``unfreeze_core/presets/paper/``) and the refusal to run a paper task on
the world's defaults.

The grid files of Table 1, G.4, G.5 and Table 7 ship inside the package, so a pip-installed unfreeze has them: a
``--config`` or grid path ``configs/paper/<folder>/<file>.yaml`` (the repository's folder, a link to the
package data) is found in the package when it is not a file where the command runs.

The defaults of ``RunConfig`` (600 steps, lr 1e-3, k 50) fit the embedded world. A run of one of the
paper's tasks that does not say its budget would silently train XNLI for 600 steps: it is refused
with a line naming the preset that carries the paper's values.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import UnfreezeError

PAPER_TASKS = ("xnli", "xcopa", "xquad", "mlqa")
MODELS = {"bert-base-multilingual-cased": "mbert", "xlm-roberta-base": "xlmr",
          "microsoft/mdeberta-v3-base": "mdeberta"}
PREFIX = "configs/paper/"
"""How presets are named on the command line and in the docs (the repository's folder)."""


def paper_folder() -> Path:
    """The presets' folder inside the installed package."""
    return Path(str(resources.files(__name__) / "paper"))


def locate(path: str | Path) -> Path:
    """``path`` itself when it exists; a preset path (``configs/paper/table1/xnli-xlmr.yaml``) that does not is
    the package's copy of that preset."""
    path = Path(path)
    text = path.as_posix()
    if path.exists() or PREFIX not in text:
        return path
    packaged = paper_folder() / text.split(PREFIX, 1)[1]
    return packaged if packaged.is_file() else path


def preset_for(task: str, model: str, adapter: str = "madx") -> str:
    """The grid file of Table 1 / G.4 / G.5 / Table 7 (full fine-tuning) for this task, model and adapter
    (``locate`` finds it installed)."""
    short = MODELS.get(model, "{mbert,xlmr}")
    if short == "mdeberta":
        return f"{PREFIX}mdeberta/{task}.yaml"
    folder = "table7" if adapter == "full" else "lora" if "lora" in adapter else "table1"
    return f"{PREFIX}{folder}/{task}-{short}.yaml"


def check_budget(config, selector) -> None:
    """Refuse a paper task whose budget (steps or epochs), lr or k was not given explicitly (``config.given``;
    a configuration made in code is not checked). ``--k`` is needed only by a selector that uses it
    (``Selector.settings_used``: a static selector does not)."""
    given = config.given
    if config.task not in PAPER_TASKS or given is None:
        return
    missing = []
    if not given & {"steps", "epochs"}:
        missing.append("--epochs or --steps")
    if "lr" not in given:
        missing.append("--lr")
    if "k" not in given and "k" in selector.settings_used():
        missing.append("--k")
    if missing:
        preset = preset_for(config.task, config.model, config.adapter)
        raise UnfreezeError(f"task {config.task!r} has no default budget (the defaults are the embedded world's): "
                            f"give {', '.join(missing)}, or use the paper's preset: "
                            f"unfreeze run --config {preset} --selector {config.selector}")
