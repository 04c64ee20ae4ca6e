"""FUN on one process needs no second copy of the model: tr(F) is estimated in place."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

import unfreeze_core.controller as controller  # noqa: E402
from unfreeze_core.components import build  # noqa: E402
from unfreeze_core.config import RunConfig  # noqa: E402
from unfreeze_core.plugins import get_plugins  # noqa: E402
from unfreeze_core.training import Trainer  # noqa: E402


def test_fun_on_one_process_never_copies_the_model(nli_dir, tmp_path, monkeypatch):
    from accelerate import Accelerator

    deepcopy = copy.deepcopy

    def no_model_copies(obj, *args, **kwargs):
        if isinstance(obj, torch.nn.Module) and sum(p.numel() for p in obj.parameters()) > 1000:
            raise AssertionError(f"a copy of a {type(obj).__name__} was made")
        return deepcopy(obj, *args, **kwargs)

    monkeypatch.setattr(copy, "deepcopy", no_model_copies)
    estimates = []
    scores = controller.fisher_scores
    monkeypatch.setattr(controller, "fisher_scores",
                        lambda *a, **kw: estimates.append(kw.get("in_place")) or scores(*a, **kw))
    config = RunConfig(task="nli", model="tiny", adapter="madx", selector="fisher", batch_size=8, k=2, steps=8,
                       fisher_batches=2, output_dir=str(tmp_path / "runs"))
    config.options["task"] = {"data_dir": str(nli_dir), "eval_limit": 8, "train_limit": 48, "languages": ["en"]}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    plugins = get_plugins()
    parts = build(config, plugins)
    Trainer(config, parts, Accelerator(cpu=True), seed=0, run_dir=tmp_path / "run", hook=plugins.hook).run()
    assert estimates == [True, True, True]  # three FUN decisions (4 units), each on the live model
    with pytest.raises(AssertionError, match="a copy"):  # the guard itself works
        copy.deepcopy(torch.nn.Linear(64, 64))
