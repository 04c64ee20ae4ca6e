"""The plugin examples in docs/plugins.md run as written: a selector and a task, registered and used."""

import json
import re
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


def test_the_selector_example_schedules_as_described(registered):
    registered(PYTHON_BLOCKS[0], "doc_selector")
    cls = get_plugins().registries()["selectors"].get("every-other")
    selector = cls(parse_options(cls.Options, {"stride": "3"}, "selector"))
    events = plan(selector, 8, 10, 100)
    assert [e["units"] for e in events] == [[7], [4], [1], [6], [5], [3], [2], [0]]


def test_the_task_example_trains_and_evaluates(registered, tmp_path):
    registered(PYTHON_BLOCKS[1], "doc_task")
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
