"""``unfreeze plugins new KIND NAME``: a plugin package to copy and edit, passing its own tests out of the box.

Each kind's module is a small working plugin (the patterns of docs/plugins.md) and its test calls the
conformance check of that kind (``unfreeze_core.testing``), so an author starts from green tests.
"""

from __future__ import annotations

import re
from pathlib import Path

from unfreeze_core.errors import UnfreezeError

KINDS = ("selector", "backend", "estimator", "task", "launcher")

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "An unfreeze {kind}: {name}"
requires-python = ">=3.10"
dependencies = ["unfreeze>=0.1,<0.2"]

[project.optional-dependencies]
test = ["pytest>=8"]

[project.entry-points.unfreeze]
{module} = "{module}"

[tool.setuptools]
packages = ["{module}"]
'''

README = '''# {dist}

An unfreeze {kind} registered as `{name}` (docs/plugins.md of unfreeze is the contract).

    unfreeze install -e .            # into unfreeze's own environment
    unfreeze plugins show {name}
    python -m pytest tests           # the conformance check of unfreeze_core.testing
'''

MODULES = {
    "selector": '''from dataclasses import dataclass

from unfreeze_core import Selector, hookimpl


class {cls}(Selector):
    """Unfreeze the highest frozen unit first, one every k steps (write your rule in select)."""

    @dataclass
    class Options:
        pass

    def select(self, ctx):
        # ctx.step, ctx.k, ctx.num_units, ctx.trainable, ctx.frozen, ctx.rng; ctx.fisher(batches=40) for tr(F)
        return ctx.frozen[-1:]


@hookimpl
def register_selectors(register):
    register("{name}", {cls})
''',
    "backend": '''from dataclasses import dataclass

from unfreeze_core import AdapterBackend, TaskAdapterBackend, hookimpl


class {cls}(TaskAdapterBackend, AdapterBackend):
    """A bottleneck adapter in every layer, one unit per layer (units, unit_modules and save come from
    TaskAdapterBackend)."""

    @dataclass
    class Options:
        reduction_factor: int = 16

        def __post_init__(self):
            if self.reduction_factor < 1:
                raise ValueError("reduction_factor must be >= 1")

    def setup(self, model, *, train_language, languages, model_name):
        from adapters import SeqBnConfig  # heavy: imported only when a run builds the model

        model.add_adapter(self.adapter_name, config=SeqBnConfig(reduction_factor=self.options.reduction_factor))
        model.train_adapter(self.adapter_name)  # freezes the base model; the head stays trainable
        model.active_adapters = self.adapter_name


@hookimpl
def register_adapter_backends(register):
    register("{name}", {cls})
''',
    "estimator": '''from dataclasses import dataclass

from unfreeze_core import FisherEstimator, hookimpl, log_probs, model_inputs, sample_labels


class {cls}(FisherEstimator):
    """Eq. 1 by one backward per example: the mean squared gradient norm of log p(ŷ|x) per unit."""

    @dataclass
    class Options:
        pass

    def estimate(self, model, *, units, unit_modules, task, batches, generator=None):
        import torch  # heavy: imported only when an estimate runs

        params = {{u: [p for _, p in named] for u, named in units.items()}}
        flat = [p for ps in params.values() for p in ps]
        totals, count = {{u: 0.0 for u in units}}, 0
        for batch in batches:
            inputs = model_inputs(batch)
            with torch.no_grad():
                labels = sample_labels(task.output_distributions(model(**inputs)), generator)
            for i in range(labels[0].shape[0]):
                one = {{k: v[i:i + 1] for k, v in inputs.items()}}
                logp = log_probs(task.output_distributions(model(**one)), [y[i:i + 1] for y in labels]).sum()
                grads = iter(torch.autograd.grad(logp, flat, allow_unused=True))
                for u, ps in params.items():
                    totals[u] += sum(float(g.pow(2).sum()) for g in (next(grads) for _ in ps) if g is not None)
                count += 1
        return {{u: t / max(count, 1) for u, t in totals.items()}}


@hookimpl
def register_fisher_estimators(register):
    register("{name}", {cls})
''',
    "task": '''from unfreeze_core import PairClassification, hookimpl


class {cls}(PairClassification):
    """Sentence-pair classification from a folder of <lang>/train.jsonl, <lang>/test.jsonl (--data-dir);
    by default the embedded world's NLI, so the tests run offline. Set text_fields and num_labels."""

    text_fields = ("premise", "hypothesis")
    num_labels = 3

    def default_folder(self):
        from unfreeze_core.world import data_dir

        return data_dir("nli")


@hookimpl
def register_tasks(register):
    register("{name}", {cls})
''',
    "launcher": '''from dataclasses import dataclass

from unfreeze_core import Launcher, hookimpl, last_error


class {cls}(Launcher):
    """Each cell in a process of its own, one after another (replace with your scheduler's submit/poll)."""

    @dataclass
    class Options:
        pass

    def launch(self, jobs, report):
        import subprocess

        for job in jobs:
            report(job.id, "running", None)
            with open(job.log, "a") as out:  # job.log's folder exists
                code = subprocess.run(job.command(), stdout=out, stderr=subprocess.STDOUT).returncode
            report(job.id, "done" if code == 0 else "failed", None if code == 0 else last_error(job.log, code))


@hookimpl
def register_launchers(register):
    register("{name}", {cls})
''',
}

CHECKS = {"selector": "check_selector({cls})", "backend": "check_backend({cls})",
          "estimator": "check_estimator({cls})",
          "task": 'check_task({cls}, {{"train_limit": 8, "eval_limit": 8}})', "launcher": "check_launcher({cls})"}

TEST = '''from unfreeze_core.testing import check_{kind}

from {module} import {cls}


def test_{module}_conforms():
    {check}
'''


def write_template(kind: str, name: str, directory: str | Path) -> Path:
    """Write the package for a ``kind`` plugin registered as ``name`` into ``directory/<distribution>``;
    returns that folder. Refuses an unknown kind, a name that is not a word, or an existing folder."""
    if kind not in KINDS:
        raise UnfreezeError(f"unknown plugin kind {kind!r}: one of {', '.join(KINDS)}")
    check_name(name)
    module = "unfreeze_" + name.replace("-", "_")
    dist = f"unfreeze-{name}"
    cls = "".join(part.capitalize() for part in name.split("-"))
    root = Path(directory) / dist
    if root.exists() or root.is_symlink():
        raise UnfreezeError(f"{root} exists: choose another name or folder")
    from unfreeze_core.rundir import check_writable

    check_writable(directory, "--dir")  # below a file, in /proc, read-only: one line before anything is written
    values = {"dist": dist, "kind": kind, "name": name, "module": module, "cls": cls}
    files = {root / "pyproject.toml": PYPROJECT.format(**values), root / "README.md": README.format(**values),
             root / module / "__init__.py": MODULES[kind].format(**values),
             root / "tests" / "conftest.py": CONFTEST,
             root / "tests" / f"test_{module}.py": TEST.format(check=CHECKS[kind].format(**values), **values)}
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:  # a full disk halfway: nothing half-written is left
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        raise UnfreezeError(f"could not write {exc.filename or root}: {exc.strerror or exc}") from None
    return root


MAX_NAME = 40
"""The distribution is ``unfreeze-NAME`` and the module ``unfreeze_NAME``: short enough for any file system."""


def check_name(name: str) -> None:
    """A name that makes a valid distribution name (PEP 508: pip installs it), a Python module name and a
    class name: lowercase words of letters and digits joined by single '-'."""
    if len(name) > MAX_NAME:
        raise UnfreezeError(f"plugin name of {len(name)} characters: at most {MAX_NAME} (it becomes the "
                            f"distribution unfreeze-NAME and the module unfreeze_NAME)")
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name):
        raise UnfreezeError(f"plugin name {name!r}: lowercase letters and digits, words joined by single '-', "
                            f"starting with a letter and not ending with '-' (it becomes the distribution "
                            f"unfreeze-NAME and the module unfreeze_NAME)")


CONFTEST = '''"""Run the tests before the package is installed (``python -m pytest unfreeze-NAME/tests``): the package
folder on the import path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
'''
