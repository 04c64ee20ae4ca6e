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
            "on_unfreeze", "on_log"} <= set(HOOKS)


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
        ("on_unfreeze", 0, (0,)), ("on_unfreeze", 2, (1,)), ("on_log", 4, 0.0005),
        ("on_unfreeze", 4, (2,)), ("on_unfreeze", 6, (3,)), ("on_log", 8, 0.0),
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
