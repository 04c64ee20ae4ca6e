"""Grid files refused at load, in one line: duplicate cells, names that leave --output-dir, alias bombs; a
10,000-cell grid resolves in seconds; presets found as package data."""

from __future__ import annotations

import time

import pytest
import yaml
from click.testing import CliRunner

from unfreeze_cli.main import cli
from unfreeze_core import grid
from unfreeze_core.errors import UnfreezeError


def write(path, values):
    path.write_text(yaml.safe_dump(values))
    return path


def one_line(args, text):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("Error: ") and not lines[0].startswith("Error: unexpected") and text in lines[0]
    return lines[0]


def test_duplicate_cells_are_refused_naming_them(tmp_path):
    same_folder = write(tmp_path / "a.yaml", {"steps": 10, "axes": {"selector": ["topdown", "lpft", "topdown"]}})
    line = one_line(["sweep", same_folder, "--dry-run", "--output-dir", tmp_path / "out"], "duplicates")
    assert "selector=topdown/seed1 and selector=topdown/seed1" in line
    same_run = write(tmp_path / "b.yaml", {"steps": 10, "axes": {"lr": [0.001, 0.0010]}})
    with pytest.raises(UnfreezeError, match="duplicates"):
        grid.cells(grid.load_grid(same_run), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["../../escape", "/tmp/elsewhere", "..", "a/b", "a\\b", ""])
def test_a_sweep_name_must_stay_inside_the_output_folder(tmp_path, name):
    path = write(tmp_path / "g.yaml", {"name": name or " ", "steps": 10, "axes": {"selector": ["topdown"]}})
    one_line(["sweep", path, "--dry-run", "--output-dir", tmp_path / "out"], "must be one folder name")
    assert not (tmp_path / "out").exists()


def test_a_yaml_alias_bomb_is_one_line(tmp_path):
    rows = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(rows + ["axes: {selector: [topdown]}"]) + "\n")
    start = time.perf_counter()
    one_line(["sweep", bomb, "--dry-run"], "aliases expand to")
    one_line(["run", "--config", bomb], "aliases expand to")
    assert time.perf_counter() - start < 30
    loop = tmp_path / "loop.yaml"
    loop.write_text("a: &a [1, *a]\n")
    one_line(["run", "--config", loop], "refers to the node that contains it")


def test_ten_thousand_cells_resolve_in_seconds(tmp_path):
    path = write(tmp_path / "big.yaml", {"name": "big", "steps": 10, "seeds": list(range(1, 11)), "axes": {
        "lr": [0.001 * i for i in range(1, 11)], "batch_size": [8 * i for i in range(1, 11)], "k": list(range(1, 11))}})
    start = time.perf_counter()
    found = grid.cells(grid.load_grid(path), tmp_path / "out")
    assert len(found) == 10_000 and time.perf_counter() - start < 60  # about 3 s on 2 busy cores


def test_a_dry_run_of_ten_thousand_seeds_prints_in_seconds(tmp_path):
    """The hostile case: one point, 10,000 seeds (the landed code printed nothing in 300 s)."""
    path = write(tmp_path / "seeds.yaml", {"name": "seeds", "steps": 10, "seeds": list(range(1, 10_001)),
                                           "axes": {"selector": ["topdown"]}})
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["sweep", str(path), "--dry-run", "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "selector=topdown/seed10000" in result.output and time.perf_counter() - start < 90


def test_presets_are_package_data_and_found_from_any_folder(tmp_path, monkeypatch):
    from unfreeze_core.presets import locate, paper_folder, preset_for

    assert (paper_folder() / "table1" / "xnli-xlmr.yaml").is_file()
    assert "unfreeze_core" in str(paper_folder())
    monkeypatch.chdir(tmp_path)  # no configs/ folder here, as for a pip-installed user
    preset = preset_for("xnli", "xlm-roberta-base")
    assert preset == "configs/paper/table1/xnli-xlmr.yaml" and locate(preset).is_file()
    config, _ = grid.build_config(preset, {"selector": "topdown"}, [])
    assert config.task == "xnli" and config.selector == "topdown"
