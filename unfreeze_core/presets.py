"""The paper's presets (``configs/paper/``) and the refusal to run a paper task on the world's defaults.

The defaults of ``RunConfig`` (600 steps, lr 1e-3, k 50) fit the embedded world. A run of one of the
paper's tasks that does not say its budget would silently train XNLI for 600 steps: it is refused
with a line naming the preset that carries the paper's values.
"""

from __future__ import annotations

from .errors import UnfreezeError

PAPER_TASKS = ("xnli", "xcopa", "xquad", "mlqa")
MODELS = {"bert-base-multilingual-cased": "mbert", "xlm-roberta-base": "xlmr",
          "microsoft/mdeberta-v3-base": "mdeberta"}
STATIC_SELECTORS = ("standard", "surgical")
"""Selectors that decide everything at step 0: k does not matter for them."""


def preset_for(task: str, model: str, adapter: str = "madx") -> str:
    """The grid file of Table 1 / G.4 / G.5 for this task, model and adapter."""
    short = MODELS.get(model, "{mbert,xlmr}")
    if short == "mdeberta":
        return f"configs/paper/mdeberta/{task}.yaml"
    folder = "lora" if "lora" in adapter else "table1"
    return f"configs/paper/{folder}/{task}-{short}.yaml"


def check_budget(config, given: set[str]) -> None:
    """Refuse a paper task whose budget (steps or epochs), lr or k was not given explicitly."""
    if config.task not in PAPER_TASKS:
        return
    missing = []
    if not given & {"steps", "epochs"}:
        missing.append("--epochs or --steps")
    if "lr" not in given:
        missing.append("--lr")
    if "k" not in given and config.selector not in STATIC_SELECTORS:
        missing.append("--k")
    if missing:
        preset = preset_for(config.task, config.model, config.adapter)
        raise UnfreezeError(f"task {config.task!r} has no default budget (the defaults are the embedded world's): "
                            f"give {', '.join(missing)}, or use the paper's preset: "
                            f"unfreeze run --config {preset} --selector {config.selector}")
