"""Suite-wide time budgets, so that the README's test command stays fast: a test file (every setup, call and
teardown of its tests) may take ``file_time_budget`` seconds, and one plugin distribution's tests
``plugin_time_budget`` seconds (pyproject.toml sets both); a run that finishes over budget fails, naming the
files. ``--file-times`` prints every file's time. Works under pytest-xdist (the controller adds the workers'
reports); ``-o file_time_budget=0`` turns the check off, e.g. under a debugger or coverage."""

from __future__ import annotations

from collections import defaultdict

import pytest

SPENT: dict[str, float] = defaultdict(float)


def pytest_addoption(parser):
    parser.addini("file_time_budget", "seconds the tests of one file may take in all (0: no limit)", default="0")
    parser.addini("plugin_time_budget", "seconds the tests of one plugins/<distribution> may take (0: no limit)",
                  default="0")
    parser.addoption("--file-times", action="store_true", help="print the seconds each test file took")


def pytest_runtest_logreport(report):
    SPENT[report.nodeid.split("::")[0]] += report.duration


def distribution(path: str) -> str | None:
    parts = path.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 and parts[0] == "plugins" else None


def over_budget(config) -> list[str]:
    """``'<file or distribution>: <seconds> s (budget <b> s)'`` for each one over its budget."""
    by_file, by_plugin = float(config.getini("file_time_budget")), float(config.getini("plugin_time_budget"))
    plugins: dict[str, float] = defaultdict(float)
    for path, seconds in SPENT.items():
        if distribution(path):
            plugins[distribution(path)] += seconds
    over = [f"{path}: {s:.1f} s (budget {by_file:g} s)" for path, s in SPENT.items() if by_file and s > by_file]
    return over + [f"{name}: {s:.1f} s (budget {by_plugin:g} s)" for name, s in plugins.items()
                   if by_plugin and s > by_plugin]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput"):
        return
    if config.getoption("file_times"):
        terminalreporter.section("seconds per test file")
        for path, seconds in sorted(SPENT.items(), key=lambda item: -item[1]):
            terminalreporter.write_line(f"{seconds:8.1f}  {path}")
    over = over_budget(config)
    if over:
        terminalreporter.section("over the time budget", red=True)
        for line in over:
            terminalreporter.write_line(line)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if not hasattr(session.config, "workerinput") and exitstatus == 0 and over_budget(session.config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
