"""Plugin loading: built-ins through entry points, throw-away plugins, broken and duplicate plugins."""

import sys
import textwrap
from dataclasses import dataclass

import pytest

from unfreeze_core.api import Selector
from unfreeze_core.errors import DuplicateNameError, UnfreezeError, UnknownNameError
from unfreeze_core.hookspecs import hookimpl
from unfreeze_core.options import parse_options
from unfreeze_core.plugins import load_plugins


class Everything(Selector):
    static = True

    @dataclass
    class Options:
        count: int = 1
        ratio: float = 0.5
        names: list[str] | None = None

    def select(self, ctx):
        return ctx.frozen


class ThrowAway:
    __version__ = "9.9"

    @hookimpl
    def register_selectors(self, register):
        register("throwaway", Everything)


@pytest.fixture
def plugins():
    loaded = load_plugins()
    loaded.register(ThrowAway(), name="throwaway-plugin")
    yield loaded
    loaded.unregister("throwaway-plugin")


def test_builtins_are_found_through_entry_points():
    registries = load_plugins().registries()
    assert {"standard", "topdown", "bottomup", "lpft", "surgical", "random", "permutation"} <= set(
        registries["selectors"].names())
    assert {"madx", "lora"} <= set(registries["adapter_backends"].names())
    assert "nli" in registries["tasks"].names()


def test_a_registered_plugin_is_listed_with_what_it_registers(plugins):
    assert plugins.registries()["selectors"].get("throwaway") is Everything
    row = next(r for r in plugins.info() if r.name == "throwaway-plugin")
    assert row.version == "9.9"
    assert row.hooks == ["register_selectors"]
    assert row.registers["selectors"] == ["throwaway"]
    assert row.error is None


def test_a_name_registered_twice_names_both_plugins(plugins):
    class Clash:
        @hookimpl
        def register_selectors(self, register):
            register("topdown", Everything)

    plugins.register(Clash(), name="clash")
    with pytest.raises(DuplicateNameError, match="'topdown'.*'(selectors|clash)'.*'(selectors|clash)'"):
        plugins.registries()
    row = next(r for r in plugins.info() if r.name == "clash")  # listing survives and shows it
    assert "registered by both" in row.error


def test_unknown_name_lists_the_available_ones(plugins):
    with pytest.raises(UnknownNameError, match="available: .*topdown"):
        plugins.registries()["selectors"].get("sideways")


@pytest.fixture
def broken_distribution(tmp_path, monkeypatch):
    """A distribution on sys.path whose entry point raises on import."""
    (tmp_path / "broken_unfreeze_plugin.py").write_text("raise RuntimeError('this plugin is broken')\n")
    info = tmp_path / "broken_unfreeze_plugin-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-unfreeze-plugin\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text("[unfreeze]\nbroken = broken_unfreeze_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("broken_unfreeze_plugin", None)


def test_a_broken_plugin_is_recorded_and_the_others_still_work(broken_distribution):
    loaded = load_plugins()
    row = next(r for r in loaded.info() if r.name == "broken")
    assert row.version == "0.3"
    assert "this plugin is broken" in row.error
    assert "topdown" in loaded.registries()["selectors"].names()


def test_load_env_limits_what_loads(monkeypatch):
    monkeypatch.setenv("UNFREEZE_LOAD_PLUGINS", "selectors,tasks")
    loaded = load_plugins()
    assert sorted(r.name for r in loaded.info()) == ["selectors", "tasks"]
    assert loaded.registries()["adapter_backends"].names() == []
    monkeypatch.setenv("UNFREEZE_LOAD_PLUGINS", "")
    assert load_plugins().info() == []


def test_options_are_typed_and_unknown_keys_named():
    opts = parse_options(Everything.Options, {"count": "3", "ratio": "1", "names": "a,b"}, "selector x")
    assert (opts.count, opts.ratio, opts.names) == (3, 1.0, ["a", "b"])
    with pytest.raises(UnfreezeError, match="unknown option 'cuont'.*count"):
        parse_options(Everything.Options, {"cuont": 3}, "selector x")
    with pytest.raises(UnfreezeError, match="option 'count': expected int"):
        parse_options(Everything.Options, {"count": "many"}, "selector x")


def test_plugin_validation_errors_become_one_line():
    from unfreeze_selectors import Surgical

    with pytest.raises(UnfreezeError, match="surgical needs the units"):
        parse_options(Surgical.Options, {}, "selector 'surgical'")


def test_listing_plugins_imports_no_torch():
    import subprocess

    code = textwrap.dedent("""
        import sys
        from click.testing import CliRunner
        from unfreeze_cli.main import cli
        result = CliRunner().invoke(cli, ["plugins", "--json"])
        assert result.exit_code == 0, result.output
        heavy = [m for m in ("torch", "transformers", "adapters", "datasets") if m in sys.modules]
        print(heavy)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_one_public_import_gives_everything_a_plugin_needs_without_torch():
    import subprocess

    code = textwrap.dedent("""
        import sys
        import unfreeze_core
        from unfreeze_core import hookimpl, Selector, Selection, SelectionContext, AdapterBackend, \\
            TaskAdapterBackend, FisherEstimator, Task, UnfreezeError, sample_labels, log_probs, model_inputs, \\
            CategoricalTask, PairClassification, MultipleChoice, plan
        values = [getattr(unfreeze_core, name) for name in unfreeze_core.__all__]
        from unfreeze_core.api import Selector as S
        from unfreeze_core.errors import UnfreezeError as E
        assert Selector is S and UnfreezeError is E
        print([m for m in ("torch", "transformers", "adapters", "datasets") if m in sys.modules])
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- a failing plugin is named (issue 19, item 5) ------------------------------------------------------------


class Failing:
    """A throw-away plugin whose hook ``hook`` raises (or whose selector ``boom`` raises in select)."""

    def __init__(self, hook):
        self.hook = hook

    @hookimpl
    def on_run_start(self, run_dir, config):
        if self.hook == "on_run_start":
            raise RuntimeError("no licence for this run")

    @hookimpl
    def on_loss(self, record):
        if self.hook == "on_loss":
            raise RuntimeError("cannot reach the dashboard")

    @hookimpl
    def on_evaluate(self, lang, scores):
        if self.hook == "on_evaluate":
            raise RuntimeError("cannot store the scores")

    @hookimpl
    def register_selectors(self, register):
        register("boom", Boom)

    @hookimpl
    def register_adapter_backends(self, register):
        from unfreeze_madx import MadX

        class BadSave(MadX):
            def save(self, model, directory):
                raise RuntimeError("adapter could not be written")

        register("bad-save", BadSave)


class Boom(Selector):
    def select(self, ctx):
        raise RuntimeError("selector exploded")


def run_tiny(nli_dir, out, *extra):
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    args = ["run", "--model", "tiny", "-o", "lang_adapters=fresh", "--steps", "4", "--k", "1", "--batch-size", "8",
            "--data-dir", str(nli_dir), "--languages", "en", "-o", "eval_limit=8",
            "--output-dir", str(out), *extra]
    return CliRunner().invoke(cli, args)


@pytest.mark.parametrize("hook,selector,where", [
    ("on_run_start", "standard", "Failing.on_run_start: RuntimeError: no licence for this run"),
    ("on_loss", "standard", "Failing.on_loss: RuntimeError: cannot reach the dashboard"),
    ("on_evaluate", "standard", "Failing.on_evaluate: RuntimeError: cannot store the scores"),
    (None, "boom", "Boom.select: RuntimeError: selector exploded"),
    ("save", "standard", "BadSave.save: RuntimeError: adapter could not be written"),
])
def test_an_exception_in_a_plugin_names_the_plugin_and_the_hook(hook, selector, where, nli_dir, tmp_path):
    from unfreeze_core.plugins import get_plugins

    plugins = get_plugins()
    plugins.register(Failing(hook), name="failing-plugin")
    try:
        result = run_tiny(nli_dir, tmp_path / "runs", "--selector", selector,
                          *(["--adapter", "bad-save"] if hook == "save" else []))
    finally:
        plugins.unregister("failing-plugin")
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"Error: plugin 'failing-plugin' failed in {where}", result.stderr
    if hook == "on_run_start":  # a run refused before it started leaves nothing
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*"))


def test_an_unforeseen_error_of_unfreeze_is_still_a_bug_to_report():
    from unfreeze_core.plugins import describe_unexpected, load_plugins

    try:
        {}["missing"]
    except KeyError as exc:
        line = describe_unexpected(exc)
    assert line.startswith("unexpected KeyError") and "a bug" in line and load_plugins()


def test_a_tracker_that_cannot_start_leaves_no_folder(nli_dir, tmp_path, monkeypatch):
    from unfreeze_core import runner

    def refuse(*args, **kwargs):
        raise UnfreezeError("--report-to tensorboard: cannot start the tracker: offline")

    monkeypatch.setattr(runner, "Trackers", refuse)
    from unfreeze_core import process

    monkeypatch.setattr(process, "accelerator_kwargs", lambda names, logging_dir: {})
    result = run_tiny(nli_dir, tmp_path / "runs", "--report-to", "tensorboard")
    assert result.exit_code == 1 and "cannot start the tracker" in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*"))


def test_a_plugin_named_in_load_plugins_that_does_not_exist_is_missing(monkeypatch):
    monkeypatch.setenv("UNFREEZE_LOAD_PLUGINS", "selectors,no-such-plugin")
    loaded = load_plugins()
    row = next(r for r in loaded.info() if r.name == "no-such-plugin")
    assert row.error.startswith("missing: no installed plugin is named 'no-such-plugin'")
    assert "selectors" not in loaded.failures


def test_debug_shows_the_traceback_of_a_plugin_that_failed_to_import(broken_distribution, monkeypatch, capsys):
    load_plugins()
    assert "Traceback" not in capsys.readouterr().err
    monkeypatch.setenv("UNFREEZE_DEBUG", "1")
    load_plugins()
    err = capsys.readouterr().err
    assert "plugin 'broken' failed to import" in err and "Traceback" in err and "this plugin is broken" in err
