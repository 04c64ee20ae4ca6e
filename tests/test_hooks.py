"""Every hook is documented and tested (datasette's two meta-tests), and the event hooks fire."""

import re
from pathlib import Path

import pytest

from unfreeze_core import hookspecs
from unfreeze_core.config import RunConfig
from unfreeze_core.hookspecs import hookimpl
from unfreeze_core.plugins import get_plugins
from unfreeze_core.runner import run_all

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith(("register_", "on_")))


def test_the_contract_has_the_hooks_we_promise():
    assert {"register_selectors", "register_adapter_backends", "register_fisher_estimators", "register_tasks",
            "on_unfreeze", "on_log", "on_loss", "on_validation", "on_fisher"} <= set(HOOKS)


def test_every_event_record_names_a_hook_of_the_contract():
    import dataclasses

    from unfreeze_core import events

    records = [getattr(events, name) for name in events.__all__]
    assert {cls.hook for cls in records} == {"on_loss", "on_validation", "on_fisher", "on_unfreeze", "on_step"}
    for cls in records:
        assert dataclasses.is_dataclass(cls) and cls.__doc__
        assert "record" in getattr(hookspecs, cls.hook).__code__.co_varnames


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook):
    assert f"`{hook}(" in (ROOT / "docs" / "plugins.md").read_text(), f"{hook} is missing from docs/plugins.md"
    assert getattr(hookspecs, hook).__doc__, f"{hook} has no docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    sources = "".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py") if p.name != "test_hooks.py")
    sources += (ROOT / "tests" / "test_hooks.py").read_text().split("# -- uses of the hooks --")[-1]
    assert re.search(rf"\b{hook}\b", sources), f"no test uses {hook}"


# -- uses of the hooks --


class Watcher:
    def __init__(self):
        self.calls = []

    @hookimpl
    def on_run_start(self, run_dir, config):
        self.calls.append(("on_run_start", config.selector))

    @hookimpl
    def on_unfreeze(self, step, units, scores):
        self.calls.append(("on_unfreeze", step, tuple(units)))

    @hookimpl
    def on_log(self, step, metrics):
        self.calls.append(("on_log", step, round(metrics["lr"], 6)))

    @hookimpl
    def on_loss(self, record):
        self.calls.append(("on_loss", record.step, round(record.lr, 6)))

    @hookimpl
    def on_evaluate(self, lang, scores):
        self.calls.append(("on_evaluate", lang, set(scores)))

    @hookimpl
    def on_run_end(self, run_dir, results):
        self.calls.append(("on_run_end", results["selector"]))


def test_a_watcher_sees_every_event_of_a_run(nli_dir, tmp_path):
    config = RunConfig(model="tiny", selector="bottomup", k=2, steps=8, batch_size=8, log_every=4,
                       output_dir=str(tmp_path))
    config.options["task"] = {"data_dir": str(nli_dir), "eval_limit": 8, "languages": ["en", "el"]}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    plugins, watcher = get_plugins(), Watcher()
    plugins.register(watcher, name="watcher")
    try:
        run_all(config)
    finally:
        plugins.unregister("watcher")
    assert watcher.calls == [
        ("on_run_start", "bottomup"),
        ("on_unfreeze", 0, (0,)), ("on_unfreeze", 2, (1,)), ("on_loss", 4, 0.0005), ("on_log", 4, 0.0005),
        ("on_unfreeze", 4, (2,)), ("on_unfreeze", 6, (3,)), ("on_loss", 8, 0.0), ("on_log", 8, 0.0),
        ("on_evaluate", "en", {"accuracy"}), ("on_evaluate", "el", {"accuracy"}),
        ("on_run_end", "bottomup"),
    ]


def test_registration_hooks_of_a_third_party_are_used(nli_dir):
    from unfreeze_core.api import AdapterBackend, FisherEstimator
    from unfreeze_core.tasks.classification import NLI

    class Mine:
        @hookimpl
        def register_adapter_backends(self, register):
            register("my-backend", AdapterBackend)

        @hookimpl
        def register_fisher_estimators(self, register):
            register("my-estimator", FisherEstimator)

        @hookimpl
        def register_tasks(self, register):
            register("my-nli", NLI)

    plugins = get_plugins()
    plugins.register(Mine(), name="mine")
    try:
        registries = plugins.registries()
        assert registries["adapter_backends"].get("my-backend") is AdapterBackend
        assert registries["fisher_estimators"].get("my-estimator") is FisherEstimator
        assert registries["tasks"].get("my-nli") is NLI
        assert registries["tasks"].owners["my-nli"] == "mine"
    finally:
        plugins.unregister("mine")


class Typed:
    """Watches the typed records: tr(F) and validation without parsing a key."""

    def __init__(self):
        self.fisher, self.validation, self.unfrozen, self.lines = [], [], [], []

    @hookimpl
    def on_fisher(self, record):
        self.fisher.append(record)

    @hookimpl
    def on_validation(self, record):
        self.validation.append(record)

    @hookimpl
    def on_unfreeze(self, step, record):
        self.unfrozen.append((step, record))

    @hookimpl
    def on_log(self, metrics):
        self.lines.append(metrics)


def test_typed_records_reach_their_hooks_and_match_the_log(nli_dir, tmp_path):
    import json

    from unfreeze_core.events import FisherRecord, UnfreezeRecord, ValidationRecord

    config = RunConfig(model="tiny", selector="fisher", k=2, steps=8, batch_size=8, log_every=4, fisher_every=4,
                       fisher_batches=2, eval_every=4, output_dir=str(tmp_path))
    config.options["task"] = {"data_dir": str(nli_dir), "eval_limit": 8, "train_limit": 32, "languages": ["en"]}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    plugins, typed = get_plugins(), Typed()
    plugins.register(typed, name="typed")
    try:
        run_all(config)
    finally:
        plugins.unregister("typed")
    assert [r.step for r in typed.fisher] == [0, 4] and all(isinstance(r, FisherRecord) for r in typed.fisher)
    first = typed.fisher[0]
    assert set(first.fisher) == {0, 1, 2, 3} and first.batches == 2 and first.train_examples is None
    assert first.fisher_sum == sum(first.fisher[u] for u in first.trainable_units)
    assert [(r.step, set(r.scores)) for r in typed.validation] == [(4, {"accuracy"}), (8, {"accuracy"})]
    assert all(isinstance(r, ValidationRecord) for r in typed.validation)
    assert [step for step, _ in typed.unfrozen] == [0, 2, 4, 6]
    assert all(isinstance(r, UnfreezeRecord) and r.step == step for step, r in typed.unfrozen)
    assert set(typed.unfrozen[0][1].scores) == {0, 1, 2, 3}  # FUN's scores, keyed by unit number
    log = [json.loads(line) for line in next(tmp_path.rglob("log.jsonl")).read_text().splitlines()]
    assert typed.lines == log  # on_log still gets every line, as written
    assert [r.as_dict() for r in typed.fisher] == [line for line in log if "fisher" in line]


def test_the_documented_typed_watcher_runs(nli_dir, tmp_path, capsys):
    import re as regex
    import types

    from unfreeze_core.events import FisherRecord, UnfreezeRecord

    doc = (ROOT / "docs" / "plugins.md").read_text()
    [code] = [b for b in regex.findall(r"```python\n(.*?)```", doc, regex.S) if "def on_fisher" in b]
    module = types.ModuleType("doc_watcher")
    exec(compile(code, "docs/plugins.md:doc_watcher", "exec"), module.__dict__)
    plugins = get_plugins()
    plugins.register(module, name="doc_watcher")
    try:
        plugins.hook.on_fisher(record=FisherRecord(0, {0: 1.0, 1: 3.0}, 0.0, 0.0, [], 2))
        plugins.hook.on_unfreeze(step=0, units=[1], scores={1: 3.0}, record=UnfreezeRecord(0, [1], {1: 3.0}))
    finally:
        plugins.unregister("doc_watcher")
    assert module.TOP == {0: 1}
    assert "step 0: unfroze [1] scores" in capsys.readouterr().out
