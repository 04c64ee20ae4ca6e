"""The command line: JSON listing, one-line errors with the right exit codes, a YAML config."""

import json
import subprocess
import sys

import pytest


def unfreeze(*args, cwd=None):
    """The installed entry point in a process of its own (``plugins`` imports no torch: half a second)."""
    return subprocess.run([sys.executable, "-m", "unfreeze_cli", *args], capture_output=True, text=True,
                          cwd=cwd)


def unfreeze_here(*args):
    """The same command line in this process (click's runner): exit code, stdout and stderr apart, without the
    seconds an interpreter with torch takes to start."""
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args], prog_name="unfreeze")
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def test_plugins_json_has_one_object_per_plugin():
    result = unfreeze("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    by_name = {r["name"]: r for r in rows}
    assert {"selectors", "madx", "lora", "tasks"} <= set(by_name)
    for row in rows:
        assert set(row) == {"name", "distribution", "version", "hooks", "registers", "error", "import_seconds",
                            "heavy_imports"}
        assert set(row["registers"]) == {"selectors", "adapter_backends", "fisher_estimators", "tasks", "launchers"}
    assert "topdown" in by_name["selectors"]["registers"]["selectors"]
    assert by_name["madx"]["error"] is None


def test_plugins_table_is_printed():
    result = unfreeze("plugins")
    assert result.returncode == 0 and "madx" in result.stdout


def one_line_error(result, code):
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("flag,value,kind", [("--selector", "sideways", "selector"), ("--adapter", "prefix", "adapter backend"),
                                             ("--task", "poetry", "task")])
def test_unknown_names_exit_2_listing_the_available_ones(flag, value, kind, tmp_path):
    line = one_line_error(unfreeze_here("run", flag, value, "--output-dir", str(tmp_path)), 2)
    assert f"unknown {kind} '{value}'" in line and "available:" in line


def test_bad_values_are_one_line_errors(tmp_path, nli_dir):
    base = ["run", "--model", "tiny", "--data-dir", str(nli_dir), "-o", "lang_adapters=fresh",
            "--output-dir", str(tmp_path)]
    assert "--k must be a positive" in one_line_error(unfreeze_here(*base, "--k", "0"), 1)
    line = one_line_error(unfreeze_here(*base, "--selector", "topdown", "--k", "5", "--steps", "10"), 1)
    assert "too short for selector TopDown" in line and "at least 16 steps" in line
    assert "data folder not found" in one_line_error(
        unfreeze_here("run", "--model", "tiny", "--data-dir", str(tmp_path / "missing"), "--output-dir", str(tmp_path)), 1)
    assert "unknown option 'nonsense'" in one_line_error(unfreeze_here(*base, "-o", "nonsense=1"), 1)
    assert "unknown language 'xx'" in one_line_error(unfreeze_here(*base, "--languages", "en,xx"), 1)
    assert "config file not found" in one_line_error(unfreeze_here(*base, "--config", str(tmp_path / "no.yaml")), 1)


def test_yaml_config_is_read_and_flags_override_it(tmp_path, nli_dir):
    config = tmp_path / "run.yaml"
    config.write_text(f"model: tiny\nselector: bottomup\nk: 2\nsteps: 12\nbatch_size: 8\n"
                      f"options:\n  task: {{data_dir: {nli_dir}, eval_limit: 8}}\n  adapter: {{lang_adapters: fresh}}\n")
    result = unfreeze_here("run", "--config", str(config), "--k", "3", "--output-dir", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / "runs" / "nli-madx-bottomup" / "seed1"
    schedule = json.loads((run_dir / "schedule.json").read_text())
    assert schedule == [{"step": 3 * i, "units": [i]} for i in range(4)]
