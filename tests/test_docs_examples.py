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

    registered(block("class IA3("), "doc_backend")
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


def test_the_prefix_tuning_backend_passes_the_engines_checks_and_runs_fun(registered, tmp_path, nli_dir):
    from unfreeze_core.testing import check_backend

    registered(block("class LayerPrefixes("), "doc_prefixes")
    cls = get_plugins().registries()["adapter_backends"].get("layer-prefixes")
    units = check_backend(cls, {"prefix_length": "4"})
    assert sorted(units) == [0, 1, 2, 3]
    config = RunConfig(task="nli", model="tiny", adapter="layer-prefixes", selector="fisher", k=2, steps=8,
                       batch_size=4, fisher_batches=1, output_dir=str(tmp_path / "runs"), checkpoint_every=0,
                       options={"task": {"data_dir": str(nli_dir), "train_limit": 16, "eval_limit": 8,
                                         "languages": ["en"]}})
    run_all(config, [(None, "prefix_length", "4")])
    [run_dir] = list((tmp_path / "runs").glob("nli-layer-prefixes-fisher*/seed1"))
    events = json.loads((run_dir / "schedule.json").read_text())
    assert sorted(u for e in events for u in e["units"]) == [0, 1, 2, 3] and "scores" in events[0]
    assert (run_dir / "task_adapter" / "prefix0").is_dir()


def _reference_table(first_header: str) -> list[str]:
    section = DOC[DOC.index("## Reference: every hook and helper"):DOC.index("## Compatibility")]
    table = section[section.index(f"| {first_header} |"):].split("\n\n")[0]
    rows = [line.split("|")[1] for line in table.splitlines()[2:]]
    return [name for cell in rows for name in re.findall(r"`(\w+)", cell)]


def test_the_reference_lists_every_hook_of_hookspecs_and_no_other():
    from unfreeze_core import hookspecs

    hooks = sorted(n for n, f in vars(hookspecs).items() if hasattr(f, "unfreeze_spec"))  # every @hookspec
    assert "register_tasks" in hooks and "progress_view" in hooks
    assert sorted(_reference_table("hook")) == hooks


def test_the_reference_lists_every_public_name_and_no_other():
    import unfreeze_core

    assert sorted(_reference_table("name")) == sorted(unfreeze_core.__all__)


def test_the_one_import_block_imports_every_public_name():
    import unfreeze_core

    [imports] = re.findall(r"from unfreeze_core import \((.*?)\)", DOC, re.S)
    names = re.findall(r"\b([A-Za-z_]\w*)\b", re.sub(r"#.*", "", imports))
    assert set(names) <= set(unfreeze_core.__all__)
    assert set(unfreeze_core.__all__) - set(names) <= {"Plugin", "first_line"}


# -- every flag and extra the docs name exists ---------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PASSES_FLAGS_ON = {("install",)}  # `unfreeze install` hands unknown flags to pip


def _command_mentions():
    """(file:line, command words, flags) for every `unfreeze CMD [SUB] ... --flag` in a span of the docs."""
    import click

    from unfreeze_cli.main import cli

    for path in DOC_FILES:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for m in re.finditer(r"\bunfreeze ((?:[a-z][a-z-]* ?){1,2})([^`|\n]*)", line):
                cmd, used = cli, []
                for word in m.group(1).split():
                    if isinstance(cmd, click.Group) and word in cmd.commands:
                        cmd, used = cmd.commands[word], used + [word]
                    else:
                        break
                flags = re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", m.group(2))
                if used and flags:
                    yield f"{path.name}:{n}", tuple(used), cmd, flags


def test_every_flag_the_docs_give_a_command_exists():
    missing = []
    for where, used, cmd, flags in _command_mentions():
        known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
        if used in PASSES_FLAGS_ON:
            continue
        missing += [f"{where}: unfreeze {' '.join(used)} {flag}" for flag in flags if flag not in known]
    assert not missing, missing


def test_the_walk_finds_the_commands_flags():
    found = {(used, flag) for _, used, _, flags in _command_mentions() for flag in flags}
    assert {(("run",), "--adapter"), (("run",), "--report-to"), (("sweep",), "--dry-run")} <= found


def test_every_extra_the_docs_name_exists():
    import tomllib

    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    named = {e for path in DOC_FILES for group in re.findall(r'\.\[([a-z,]+)\]', path.read_text())
             for e in group.split(",")}
    assert named and named <= extras, sorted(named - extras)
    assert {"peft", "mlflow", "wandb", "trackio", "ray", "slurm", "tensorboard"} <= extras
    for doc in ("README.md", "docs/sweeps.md"):  # where a launcher's user looks for what to install
        text = (ROOT / doc).read_text()
        assert '".[ray]" -e plugins/unfreeze-ray' in text and '".[slurm]" -e plugins/unfreeze-slurm' in text, doc


# -- the signatures and exceptions the docs give ------------------------------------------------------------


def _documented_callables() -> tuple[dict, dict]:
    """(functions and classes a doc may call by name, methods a doc's table may give as rows)."""
    import unfreeze_core
    from unfreeze_core import testing
    from unfreeze_core.integrations.loop import Unfreezing
    from unfreeze_core.integrations.transformers import UnfreezeCallback

    named = {n: getattr(unfreeze_core, n) for n in unfreeze_core.__all__}
    named |= {n: getattr(testing, n) for n in testing.__all__}
    named |= {"UnfreezeCallback": UnfreezeCallback, "Unfreezing": Unfreezing}
    try:
        from unfreeze_lightning import UnfreezeFinetuning

        named["UnfreezeFinetuning"] = UnfreezeFinetuning
    except ImportError:  # plugins/unfreeze-lightning not installed
        pass
    methods = {n: f for n, f in vars(Unfreezing).items() if callable(f) and not n.startswith("_")}
    return {n: f for n, f in named.items() if callable(f)}, methods


def _signature_mentions():
    """(where, name, text in the parentheses, whether it is a table row's first cell) for every `name(...)`."""
    for path in DOC_FILES:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for m in re.finditer(r"(?<![\w.])(\w+)\(([^()`\n]*)\)", line):
                row = line.startswith("| `") and m.start() < line.index("|", 1)  # in a table's first cell
                yield f"{path.name}:{n}", m.group(1), m.group(2), row


def _params(signature, drop_self: bool) -> list:
    import inspect

    params = list(signature.parameters.values())
    return params[1:] if drop_self else params


def test_every_signature_the_docs_give_is_the_codes():
    import ast
    import inspect

    named, methods = _documented_callables()
    wrong, checked = [], 0
    for where, name, inside, row in _signature_mentions():
        if "..." in inside:
            continue  # an abbreviation: `Unfreezing(model, selector=..., ...)`
        if row and (name in named or name in methods):  # a signature: the same parameters, kinds and defaults
            func = named.get(name) or methods[name]
            real = _params(inspect.signature(func), drop_self=name not in named)
            doc = ast.parse(f"def f({inside}): pass").body[0].args
            given = [(a.arg, "kw" if kw else "pos") for kw, args in ((False, doc.posonlyargs + doc.args),
                                                                    (True, doc.kwonlyargs)) for a in args]
            given += [(doc.vararg.arg, "*")] if doc.vararg else []
            given += [(doc.kwarg.arg, "**")] if doc.kwarg else []
            kind = {inspect.Parameter.KEYWORD_ONLY: "kw", inspect.Parameter.VAR_POSITIONAL: "*",
                    inspect.Parameter.VAR_KEYWORD: "**"}
            actual = [(p.name, kind.get(p.kind, "pos")) for p in real]
            defaults = dict(zip([a.arg for a in doc.args][::-1], doc.defaults[::-1]))
            defaults |= {a.arg: d for a, d in zip(doc.kwonlyargs, doc.kw_defaults) if d is not None}
            real_defaults = {p.name: p.default for p in real}
            bad_defaults = [k for k, d in defaults.items() if ast.literal_eval(d) != real_defaults.get(k)]
            if given != actual or bad_defaults:
                wrong.append(f"{where}: {name}({inside}) is not {name}{inspect.signature(func)}")
            checked += 1
        elif name in named:  # a call: the code takes these arguments
            try:
                call = ast.parse(f"f({inside})", mode="eval").body
            except SyntaxError:
                continue
            try:
                inspect.signature(named[name]).bind_partial(*[None] * len(call.args),
                                                            **{k.arg: None for k in call.keywords if k.arg})
            except TypeError as exc:
                wrong.append(f"{where}: {name}({inside}): {exc}")
            checked += 1
    assert not wrong, wrong
    assert checked > 20


def test_the_signature_walk_sees_the_tables():
    rows = {name for _, name, _, row in _signature_mentions() if row}
    assert {"check_backend", "check_task", "param_groups", "load_state_dict"} <= rows


def test_the_exceptions_the_docs_promise():
    """docs/plugins.md: the conformance checks raise AssertionError (check_backend too, for the engine's own
    checks); build_model raises ValueError and otherwise returns (model, tokenizer, units)."""
    from unfreeze_core import AdapterBackend
    from unfreeze_core.testing import build_model, check_backend

    class Overlapping(AdapterBackend):
        """Every unit holds the same new module: refused by the engine's checks (units must not overlap)."""

        def setup(self, model, **_):
            import torch

            self.norm = model.base_model.shared = torch.nn.Linear(2, 2)

        def units(self, model):
            return {u: list(self.norm.named_parameters()) for u in range(model.config.num_hidden_layers)}

        def unit_modules(self, model):
            return {u: [self.norm] for u in range(model.config.num_hidden_layers)}

        def num_units(self, config):
            return config.num_hidden_layers

    assert "raises `AssertionError`" in DOC and "returns `(model, tokenizer, units)`" in DOC
    with pytest.raises(AssertionError, match="units 0 and 1 both hold"):
        check_backend(Overlapping)
    with pytest.raises(ValueError, match="units 0 and 1 both hold"):
        build_model(Overlapping())
