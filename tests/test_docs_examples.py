"""The plugin examples in docs/plugins.md run as written: a selector (and its test), an (IA)³ backend,
a Fisher estimator and a task, registered and used."""

import json
import re
import sys
import types
from pathlib import Path

import pytest

from unfreeze_core.config import RunConfig
from unfreeze_core.options import parse_options
from unfreeze_core.plugins import get_plugins
from unfreeze_core.runner import run_all
from unfreeze_core.schedule import plan

DOC = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.S)


def block(marker: str) -> str:
    """The one python block of docs/plugins.md that contains ``marker``."""
    [found] = [b for b in PYTHON_BLOCKS if marker in b]
    return found


def module_from(code: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(code, f"docs/plugins.md:{name}", "exec"), module.__dict__)
    return module


@pytest.fixture
def registered():
    plugins, names = get_plugins(), []

    def register(code, name):
        plugins.register(module_from(code, name), name=name)
        names.append(name)

    yield register
    for name in names:
        plugins.unregister(name)


def test_the_selector_example_schedules_as_described(registered, monkeypatch):
    registered(block("register_selectors"), "doc_selector")
    cls = get_plugins().registries()["selectors"].get("every-other")
    selector = cls(parse_options(cls.Options, {"stride": "3"}, "selector"))
    events = plan(selector, 8, 10, 100)
    assert [e["units"] for e in events] == [[7], [4], [1], [6], [5], [3], [2], [0]]
    monkeypatch.setitem(sys.modules, "my_selector", module_from(block("register_selectors"), "my_selector"))
    module_from(block("def test_top_first"), "doc_selector_test").test_top_first_then_every_second_unit()


def test_the_backend_and_estimator_examples_equal_exact_and_run_fun(registered, tmp_path, nli_dir):
    torch = pytest.importorskip("torch")
    from unfreeze_fisher import Exact

    from unfreeze_core.fisher import fisher_scores
    from unfreeze_core.models import load_model
    from unfreeze_core.tasks.classification import XNLI

    registered(block("register_adapter_backends"), "doc_backend")
    registered(block("register_fisher_estimators"), "doc_estimator")
    registries = get_plugins().registries()
    backend = registries["adapter_backends"].get("ia3")()
    loop = registries["fisher_estimators"].get("loop")()
    model, _ = load_model("tiny")
    task = XNLI()
    task.add_head(model)
    backend.setup(model, train_language="en", languages=["en"], model_name="tiny")
    with torch.no_grad():
        for params in backend.units(model).values():
            for _, p in params:
                p.normal_(1, 0.3)
    g = torch.Generator().manual_seed(0)
    data = [{"input_ids": torch.randint(5, 100, (3, 10), generator=g), "attention_mask": torch.ones(3, 10, dtype=torch.long),
             "labels": torch.zeros(3, dtype=torch.long)} for _ in range(2)]
    mine = fisher_scores(model, backend, task, loop, data, torch.Generator().manual_seed(1))
    exact = fisher_scores(model, backend, task, Exact(), data, torch.Generator().manual_seed(1))
    assert set(mine) == set(exact) and all(abs(mine[u] - exact[u]) <= 1e-5 * exact[u] for u in exact)

    config = RunConfig(task="nli", model="tiny", adapter="ia3", selector="fisher", fisher="loop", fisher_batches=1,
                       k=2, steps=8, batch_size=4, output_dir=str(tmp_path / "runs"), checkpoint_every=0)
    config.options["task"] = {"data_dir": str(nli_dir), "train_limit": 16, "eval_limit": 8, "languages": ["en"]}
    run_all(config, [("fisher", "max_examples", "4")])
    run_dir = tmp_path / "runs" / "nli-ia3-fisher-loop" / "seed1"
    recorded = json.loads((run_dir / "plugins.json").read_text())
    assert recorded["fisher"] == recorded["scored_by"] == {
        "name": "loop", "plugin": "doc_estimator", "version": None, "options": {"max_examples": 4}}
    assert all("scores" in e for e in json.loads((run_dir / "schedule.json").read_text())[:-1])


def test_the_task_example_trains_and_evaluates(registered, tmp_path):
    registered(block("register_tasks"), "doc_task")
    for lang, pairs in {"en": [("a cat", "a cat"), ("a dog", "a cat")] * 10, "de": [("eine Katze", "eine Katze")] * 4,
                        "el": [("μια γάτα", "ένας σκύλος")] * 4}.items():
        split = "train" if lang == "en" else "test"
        for s in ([split, "test"] if lang == "en" else [split]):
            folder = tmp_path / "pawsx" / lang
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{s}.jsonl").write_text("".join(
                json.dumps({"sentence1": a, "sentence2": b, "label": int(a == b)}, ensure_ascii=False) + "\n"
                for a, b in pairs))
    config = RunConfig(task="pawsx", model="tiny", selector="topdown", k=2, steps=8, batch_size=4,
                       output_dir=str(tmp_path / "runs"))
    config.options["task"] = {"data_dir": str(tmp_path / "pawsx")}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    [result] = run_all(config)
    assert result["task"] == "pawsx" and set(result["scores"]) == {"en", "de", "el"}
