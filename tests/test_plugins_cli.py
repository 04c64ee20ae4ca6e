"""`unfreeze plugins` for users and authors: distributions, options, import times, 80 columns; failed
plugins named by `unfreeze run`; `unfreeze install` runs pip with unfreeze's own Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def fake_distribution(root, dist: str, module: str, entry: str, code: str) -> None:
    """An installed-looking distribution (a dist-info folder) on ``root`` with one unfreeze entry point."""
    (root / f"{module}.py").write_text(code)
    info = root / f"{dist.replace('-', '_')}-0.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.2\n")
    (info / "entry_points.txt").write_text(f"[unfreeze]\n{entry} = {module}\n")


@pytest.fixture(scope="module")
def extra_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    fake_distribution(root, "slow-unfreeze-plugin", "slow_unfreeze_plugin", "slowpoke",
                      "import time\ntime.sleep(0.6)\n"
                      "from unfreeze_core import hookimpl, Selector\n"
                      "class Nothing(Selector):\n    'Never unfreezes anything.'\n"
                      "    def select(self, ctx):\n        return []\n"
                      "@hookimpl\ndef register_selectors(register):\n    register('nothing-at-all', Nothing)\n")
    fake_distribution(root, "broken-unfreeze-plugin", "broken_unfreeze_plugin2", "broken",
                      "raise RuntimeError('this plugin is broken')\n")
    return root


def unfreeze(*args, path=None, columns=80):
    env = {**os.environ, "COLUMNS": str(columns)}
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "unfreeze_cli", *args], capture_output=True, text=True, env=env)


def test_listing_names_distributions_slow_and_broken_plugins_in_80_columns(extra_path):
    result = unfreeze("plugins", path=extra_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "slowpoke · slow-unfreeze-plugin 0.2 · import" in out
    assert "fisher · unfreeze-fisher 0.1.0" in out  # the name to uninstall, not only the entry point's
    assert "slow: 'slowpoke' (slow-unfreeze-plugin)" in out
    assert "this plugin is broken" in out
    assert "register_fisher_estimators" in out.split()  # hook names are whole words, never cut
    assert max(len(line) for line in out.splitlines()) <= 80
    rows = {r["name"]: r for r in json.loads(unfreeze("plugins", "--json", path=extra_path).stdout)}
    assert rows["slowpoke"]["distribution"] == "slow-unfreeze-plugin" and rows["slowpoke"]["import_seconds"] >= 0.6
    wide = unfreeze("plugins", "--options", path=extra_path).stdout
    assert max(len(line) for line in wide.splitlines()) <= 80


def test_show_lists_options_with_types_and_defaults():
    result = unfreeze("plugins", "show", "fisher")  # the plugin unfreeze-fisher and the selector fisher
    assert result.returncode == 0, result.stderr
    assert "labels: str = 'sample'" in result.stdout
    assert "top_first: bool = False" in result.stdout and "stop_z: float = 0.0" in result.stdout
    by_dist = unfreeze("plugins", "show", "unfreeze-madx").stdout
    assert "reduction_factor: int = 16" in by_dist
    missing = unfreeze("plugins", "show", "nope")
    assert missing.returncode == 2 and missing.stderr.startswith("Error: no plugin or registered name 'nope'")


def test_run_warns_about_a_failed_plugin_and_the_unknown_name_hints_at_it(extra_path):
    result = unfreeze("run", "--selector", "nope", path=extra_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Warning: plugin 'broken' (from broken-unfreeze-plugin) failed to load")
    assert lines[-1].startswith("Error: unknown selector 'nope'") and "'broken' failed to load" in lines[-1]
    assert "Traceback" not in result.stderr


def test_install_and_uninstall_use_unfreezes_own_python(monkeypatch):
    from click.testing import CliRunner

    from unfreeze_cli import install as install_cmd
    from unfreeze_cli.main import cli

    calls = []

    class Done:
        returncode = 0

    monkeypatch.setattr(install_cmd.subprocess, "run", lambda args, **kw: calls.append(args) or Done())
    assert CliRunner().invoke(cli, ["install", "my-selector", "-U"]).exit_code == 0
    assert CliRunner().invoke(cli, ["uninstall", "unfreeze-ray"]).exit_code == 0
    assert calls == [[sys.executable, "-m", "pip", "install", "my-selector", "--upgrade"],
                     [sys.executable, "-m", "pip", "uninstall", "-y", "unfreeze-ray"]]
    refused = CliRunner().invoke(cli, ["uninstall", "unfreeze"])
    assert refused.exit_code == 1 and "refusing" in refused.output


def test_install_passes_pip_flags_through(monkeypatch):
    from click.testing import CliRunner

    from unfreeze_cli import install as install_cmd
    from unfreeze_cli.main import cli

    calls = []

    class Done:
        returncode = 0

    monkeypatch.setattr(install_cmd.subprocess, "run", lambda args, **kw: calls.append(args) or Done())
    result = CliRunner().invoke(cli, ["install", "--no-deps", "./my-plugin", "-c", "constraints.txt"])
    assert result.exit_code == 0, result.output
    assert calls == [[sys.executable, "-m", "pip", "install", "--no-deps", "./my-plugin", "-c", "constraints.txt"]]
    assert CliRunner().invoke(cli, ["install", "--no-deps"]).exit_code == 2  # flags but no package


@pytest.mark.parametrize("name,line", [
    ("gradnorm", "Error: no distribution 'gradnorm' is installed"),
    ("standard", "Error: the selector 'standard' of plugin 'selectors' is not a distribution: "
                 "unfreeze uninstall unfreeze-selectors"),
    ("selectors", "Error: plugin 'selectors' is not a distribution: unfreeze uninstall unfreeze-selectors"),
])
def test_uninstalling_a_plugin_name_says_which_distribution_and_fails(monkeypatch, name, line):
    from click.testing import CliRunner

    from unfreeze_cli import install as install_cmd
    from unfreeze_cli.main import cli

    calls = []
    monkeypatch.setattr(install_cmd.subprocess, "run", lambda args, **kw: calls.append(args))
    result = CliRunner().invoke(cli, ["uninstall", name])
    assert result.exit_code == 1 and result.output.strip().startswith(line) and "\n" not in result.output.strip()
    assert calls == []  # pip never ran


KINDS = ["selector", "backend", "estimator", "task", "launcher"]


@pytest.fixture(scope="module")
def new_packages(tmp_path_factory):
    """Every kind's package as `unfreeze plugins new` writes it, and one pytest session over all their tests
    (one interpreter instead of five): ``(where, made, session, outcomes)``, outcomes by test name from its JUnit file."""
    import xml.etree.ElementTree as ET

    where = tmp_path_factory.mktemp("new-plugins")
    made = {kind: unfreeze("plugins", "new", kind, f"my-{kind}", "--dir", str(where)) for kind in KINDS}
    roots = [where / f"unfreeze-my-{kind}" for kind in KINDS]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, roots), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    junit = where / "junit.xml"
    session = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(where),
                              "--junitxml", str(junit), *(str(root / "tests") for root in roots)],
                             capture_output=True, text=True, env=env, cwd=where, timeout=600)
    outcomes = {}
    if junit.exists():
        for case in ET.parse(junit).iter("testcase"):
            failed = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            outcomes[case.get("name")] = failed[0] if failed else "passed"
    return where, made, session, outcomes


@pytest.mark.parametrize("kind", KINDS)
def test_a_new_plugin_package_passes_its_own_tests_out_of_the_box(new_packages, kind):
    where, made, session, outcomes = new_packages
    assert made[kind].returncode == 0, made[kind].stderr
    root = where / f"unfreeze-my-{kind}"
    assert (root / "pyproject.toml").read_text().count(f'unfreeze_my_{kind} = "unfreeze_my_{kind}"') == 1
    assert outcomes.get(f"test_unfreeze_my_{kind}_conforms") == "passed", session.stdout[-3000:] + session.stderr[-2000:]


def test_new_refuses_an_existing_folder_and_a_bad_name(tmp_path):
    assert unfreeze("plugins", "new", "selector", "mine", "--dir", str(tmp_path)).returncode == 0
    again = unfreeze("plugins", "new", "selector", "mine", "--dir", str(tmp_path))
    assert again.returncode == 1 and again.stderr.strip().startswith("Error: ") and "exists" in again.stderr
    bad = unfreeze("plugins", "new", "selector", "My Selector", "--dir", str(tmp_path))
    assert bad.returncode == 1 and "lowercase letters" in bad.stderr


@pytest.mark.parametrize("name, text", [
    ("a-", "not ending with '-'"), ("a--b", "single '-'"), ("1a", "starting with a letter"),
    ("a_b", "lowercase letters and digits"), ("x" * 300, "plugin name of 300 characters: at most 40"),
])
def test_new_refuses_a_name_pip_or_python_would_refuse(tmp_path, name, text):
    """`a-` used to be written as a package pip then refused; a 300-letter name was "unexpected OSError"."""
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    result = CliRunner().invoke(cli, ["plugins", "new", "selector", name, "--dir", str(tmp_path)])
    assert result.exit_code == 1 and text in result.output and len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where, text", [("below a file", "is not a folder"), ("/proc", "cannot write in /proc"),
                                         ("read-only", "cannot write in")])
def test_new_checks_its_folder_before_writing(tmp_path, where, text):
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    if where == "below a file":
        (tmp_path / "file").write_text("x")
        directory = tmp_path / "file" / "sub"
    elif where == "/proc":
        directory = Path("/proc/plugins")
    else:
        directory = tmp_path / "ro"
        directory.mkdir()
        if subprocess.run(["mount", "--bind", "-o", "ro", str(directory), str(directory)],
                          capture_output=True).returncode != 0:
            directory.chmod(0o500)
            if os.access(directory, os.W_OK):
                pytest.skip("cannot make a read-only folder here (root without mount)")
    try:
        result = CliRunner().invoke(cli, ["plugins", "new", "selector", "mine", "--dir", str(directory)])
    finally:
        if where == "read-only":
            subprocess.run(["umount", str(directory)], capture_output=True)
    assert result.exit_code == 1 and text in result.output and "unexpected" not in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_printed_test_command_works_as_printed(tmp_path):
    """`plugins new` prints `python -m pytest unfreeze-NAME/tests`; run as printed, from --dir's parent with a
    relative --dir, on the untouched template (it used to fail with ModuleNotFoundError)."""
    made = subprocess.run([sys.executable, "-m", "unfreeze_cli", "plugins", "new", "selector", "mine", "--dir", "."],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert made.returncode == 0, made.stderr
    command = next(line for line in made.stdout.splitlines() if "test it:" in line).split("test it:")[1].strip()
    assert command == "python -m pytest unfreeze-mine/tests"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(command.split() + ["-q", "-p", "no:cacheprovider"], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-1000:]


def test_show_keeps_the_help_of_fields_an_options_subclass_inherits(tmp_path):
    fake_distribution(tmp_path, "inherit-unfreeze-plugin", "inherit_unfreeze_plugin", "inherit",
                      "from dataclasses import dataclass\n"
                      "from unfreeze_core import hookimpl, Selector\n"
                      "@dataclass\nclass Base:\n    stride: int = 2\n    \"\"\"Units skipped between two picks.\"\"\"\n"
                      "@dataclass\nclass Mine(Base):\n    top: bool = True\n    \"\"\"Start at the top.\"\"\"\n"
                      "class Skipper(Selector):\n    'Skips units.'\n    Options = Mine\n"
                      "    def select(self, ctx):\n        return []\n"
                      "@hookimpl\ndef register_selectors(register):\n    register('skipper', Skipper)\n")
    shown = unfreeze("plugins", "show", "skipper", path=tmp_path, columns=120)
    assert shown.returncode == 0, shown.stderr
    assert "Units skipped between two picks." in shown.stdout and "Start at the top." in shown.stdout
