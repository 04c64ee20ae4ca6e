"""``unfreeze plot``: synthetic run directories -> valid PNGs; bad inputs are one-line errors."""

from __future__ import annotations

import json
import math
import random
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from unfreeze_cli.main import cli

UNITS, K, STEPS = 4, 10, 60
FIGURES = ("loss.png", "validation.png", "fisher.png", "fisher_units.png", "schedule.png", "results.png")


def write_run(root: Path, selector: str, seed: int, fisher: bool = True) -> Path:
    """A run directory as the trainer writes it: log.jsonl (loss and tr(F) lines), schedule, results, config."""
    rng = random.Random(f"{selector}-{seed}")
    run = root / f"xnli-madx-{selector}" / f"seed{seed}"
    run.mkdir(parents=True)
    order = [3, 2, 1, 0] if selector == "topdown" else [2, 3, 0, 1]
    events, lines = [], []
    for i, unit in enumerate(order):
        event = {"step": i * K, "units": [unit]}
        if selector == "fisher":
            event["scores"] = {str(u): round(rng.uniform(0.5, 5.0), 3) for u in order[i:]}
        events.append(event)
    for step in range(STEPS):
        trainable = sorted(u for e in events if e["step"] <= step for u in e["units"])
        if step % 5 == 0 and fisher:
            hill = (1 + 0.2 * seed) * math.exp(-((step - 20) / 25) ** 2)
            values = {str(u): (u + 1) * hill + rng.random() * 0.1 for u in range(UNITS)}
            total = sum(values[str(u)] for u in trainable)
            lines.append({"step": step, "fisher": values, "fisher_sum": total,
                          "fisher_per_trainable": total / len(trainable), "trainable_units": trainable})
        if (step + 1) % 5 == 0:
            loss = (1 + 0.1 * seed) * math.exp(-step / 30) + rng.random() * 0.05
            lines.append({"step": step + 1, "loss": loss, "lr": 1e-4, "trainable_units": trainable,
                          "elapsed_s": step * 0.1})
        if (step + 1) % 20 == 0 and fisher:
            lines.append({"step": step + 1, "validation": {"accuracy": 0.4 + step / 400 + rng.random() * 0.02}})
    (run / "log.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (run / "schedule.json").write_text(json.dumps(events))
    scores = {lang: rng.uniform(0.4, 0.8) for lang in ("en", "de", "el")}
    xling = {k: v for k, v in scores.items() if k != "en"}
    low = min(xling, key=xling.get)
    (run / "results.json").write_text(json.dumps({
        "task": "xnli", "adapter": "madx", "selector": selector, "seed": seed, "metric": "accuracy",
        "scores": scores, "avg_xling": sum(xling.values()) / len(xling), "lowest": {"lang": low, "score": xling[low]},
        "all_metrics": {k: {"accuracy": v} for k, v in scores.items()}}))
    (run / "config.yaml").write_text(f"task: xnli\nadapter: madx\nselector: {selector}\nk: {K}\nsteps: {STEPS}\n"
                                     f"seeds: [{seed}]\n")
    return run


@pytest.fixture()
def runs(tmp_path) -> Path:
    root = tmp_path / "runs"
    for selector in ("topdown", "fisher"):
        for seed in (1, 2):
            write_run(root, selector, seed)
    return root


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    return struct.unpack(">II", data[16:24])


def test_plot_writes_every_figure(runs, tmp_path):
    out = tmp_path / "plots"
    result = CliRunner().invoke(cli, ["plot", str(runs), "--out", str(out), "--smooth", "3"])
    assert result.exit_code == 0, result.output
    printed = result.stdout.split()
    assert sorted(Path(p).name for p in printed) == sorted(FIGURES)
    for name in FIGURES:
        path = out / name
        assert path.is_file() and path.stat().st_size > 10_000, name
        width, height = png_size(path)
        assert 400 <= width <= 4000 and 250 <= height <= 4000, (name, width, height)


def test_one_run_directory_without_fisher_skips_those_figures(tmp_path):
    run = write_run(tmp_path / "runs", "topdown", 0, fisher=False)
    out = tmp_path / "plots"
    result = CliRunner().invoke(cli, ["plot", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "skipped fisher.png" in result.stderr and "skipped validation.png" in result.stderr
    assert {p.name for p in out.iterdir()} == {"loss.png", "schedule.png", "results.png"}


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    return lines[0]


def test_run_folder_without_log_is_one_line_error(runs, tmp_path):
    run = runs / "xnli-madx-topdown" / "seed1"
    (run / "log.jsonl").unlink()
    line = one_line_error(CliRunner().invoke(cli, ["plot", str(run), "--out", str(tmp_path / "p")]))
    assert "no log.jsonl" in line


@pytest.mark.parametrize("content", ["", "not json\n"])
def test_empty_or_broken_log_is_one_line_error(tmp_path, content):
    run = write_run(tmp_path / "runs", "topdown", 0)
    (run / "log.jsonl").write_text(content)
    one_line_error(CliRunner().invoke(cli, ["plot", str(run), "--out", str(tmp_path / "p")]))


def test_folder_without_runs_is_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()
    line = one_line_error(CliRunner().invoke(cli, ["plot", str(tmp_path / "empty"), "--out", str(tmp_path / "p")]))
    assert "no run directories" in line


# ---------------------------------------------------------------- the Figure 3 numbers, by hand

def test_moving_average_against_hand_values():
    from unfreeze_report.plots import moving_average

    values = [1.0, 2.0, 4.0, 8.0, 16.0]
    # window 3, centered, shorter at the edges: (1+2)/2, (1+2+4)/3, (2+4+8)/3, (4+8+16)/3, (8+16)/2
    assert list(moving_average(values, 3)) == pytest.approx([1.5, 7 / 3, 14 / 3, 28 / 3, 12.0])
    # window 4 looks one back and two ahead: (1+2+4)/3, (1+2+4+8)/4, (2+4+8+16)/4, (4+8+16)/3, (8+16)/2
    assert list(moving_average(values, 4)) == pytest.approx([7 / 3, 3.75, 7.5, 28 / 3, 12.0])
    assert list(moving_average(values, 1)) == values
    # a NaN is left out of every window it falls in: (1)/1, (1+4)/2, (4)/1
    assert list(moving_average([1.0, float("nan"), 4.0], 3)) == pytest.approx([1.0, 2.5, 4.0])


def test_mean_band_against_hand_values():
    from unfreeze_report.plots import mean_band

    # seed A at steps 0, 10, 20; seed B at steps 0, 20 (interpolated at 10: (2+6)/2 = 4)
    steps, mean, std = mean_band([([0, 10, 20], [1.0, 3.0, 5.0]), ([0, 20], [2.0, 6.0])])
    assert list(steps) == [0, 10, 20]
    assert list(mean) == pytest.approx([1.5, 3.5, 5.5])
    assert list(std) == pytest.approx([math.sqrt(0.5)] * 3)  # sample std of two values 1 apart
    # a seed that ends earlier does not extend its last value: at step 30 only seed A counts, std 0
    steps, mean, std = mean_band([([0, 30], [0.0, 3.0]), ([0, 10], [2.0, 4.0])])
    assert list(steps) == [0, 10, 30]
    assert list(mean) == pytest.approx([1.0, 2.5, 3.0]) and list(std) == pytest.approx([math.sqrt(2), math.sqrt(4.5), 0])


# ---------------------------------------------------------------- cells, not names

def test_runs_of_different_settings_are_separate_lines_and_a_copy_counts_once(tmp_path):
    from unfreeze_report.plots import _lines, load_runs

    root = tmp_path / "runs"
    for lr, seed in ((0.001, 1), (0.002, 1)):
        run = write_run(root / f"lr{lr}", "topdown", seed)
        (run / "config.yaml").write_text(f"task: xnli\nadapter: madx\nselector: topdown\nk: {K}\nsteps: {STEPS}\n"
                                         f"lr: {lr}\nseeds: [{seed}]\n")
        for name in ("results.json",):  # an older results.json: the cell comes from config.yaml
            assert "settings" not in json.loads((run / name).read_text())
    copy = root / "copy"
    import shutil

    shutil.copytree(root / "lr0.001", copy)
    notes: list[str] = []
    runs = load_runs([root], notes)
    lines, extra = _lines(runs)
    assert len(runs) == 2 and len(lines) == 2 and extra == ["lr"]
    assert any("the same run" in note and str(copy) in note for note in notes)


# ---------------------------------------------------------------- never fail on a folder's content

def deep(n: int) -> str:
    return "[" * n + "]" * n


TAMPERED = {
    "schedule of wrong types": ("schedule.json", json.dumps([{"step": "ten", "units": "all"}])),
    "schedule units not numbers": ("schedule.json", json.dumps([{"step": 0, "units": [[1]]}])),
    "schedule a mapping": ("schedule.json", json.dumps({"step": 0})),
    "schedule step 1e308": ("schedule.json", json.dumps([{"step": 1e308, "units": [1]}])),
    "schedule score NaN": ("schedule.json", '[{"step": 0, "units": [1], "scores": {"1": NaN}}]'),
    "log step 1e308": ("log.jsonl", json.dumps({"step": 1e308, "loss": 1.0}) + "\n"),
    "log step as text": ("log.jsonl", json.dumps({"step": "5", "loss": 1.0}) + "\n"),
    "log step negative": ("log.jsonl", json.dumps({"step": -3, "loss": 1.0}) + "\n"),
    "log loss infinite": ("log.jsonl", '{"step": 5, "loss": Infinity}\n'),
    "log tr(F) NaN": ("log.jsonl", '{"step": 5, "fisher": {"0": NaN}, "fisher_per_trainable": 1.0}\n'),
    "log unit 10**9": ("log.jsonl", '{"step": 5, "fisher": {"1000000000": 1.0}, "fisher_per_trainable": 1.0}\n'),
    "log nested deeply": ("log.jsonl", '{"step": 5, "loss": ' + deep(100_000) + "}\n"),
    "results score NaN": ("results.json", '{"task": "xnli", "adapter": "madx", "selector": "fisher", "seed": 1, '
                                          '"metric": "accuracy", "scores": {"en": NaN}}'),
    "results nested deeply": ("results.json", deep(100_000)),
    "schedule nested deeply": ("schedule.json", deep(100_000)),
    "config nested deeply": ("config.yaml", "seeds: " + deep(5000) + "\n"),
    "config seed text": ("config.yaml", "seeds: [one]\n"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_folder_is_skipped_and_named(runs, tmp_path, case):
    name, content = TAMPERED[case]
    bad = runs / "xnli-madx-fisher" / "seed1"
    if name == "config.yaml":
        (bad / "results.json").unlink()  # the seed then comes from config.yaml
    if name == "log.jsonl":
        content = (bad / name).read_text() + content
    (bad / name).write_text(content)
    out = tmp_path / "plots"
    result = CliRunner().invoke(cli, ["plot", str(runs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"skipped run folder {bad}" in result.stderr, result.stderr
    assert sorted(Path(p).name for p in result.stdout.split()) == sorted(FIGURES)
    assert sorted(p.name for p in out.iterdir()) == sorted(FIGURES)


def test_an_unwritable_out_is_one_line(runs, tmp_path):
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "plots"):
        line = one_line_error(CliRunner().invoke(cli, ["plot", str(runs), "--out", str(out)]))
        assert line.startswith(f"Error: --out {out}: cannot write there")
    assert (tmp_path / "file").read_text() == "x"


def test_a_figure_that_fails_leaves_nothing(runs, tmp_path, monkeypatch):
    from unfreeze_report import plots

    def broken(runs, path):
        raise ValueError("Axis limits cannot be NaN or Inf")

    monkeypatch.setattr(plots, "plot_results", broken)
    out = tmp_path / "new" / "plots"
    line = one_line_error(CliRunner().invoke(cli, ["plot", str(runs), "--out", str(out)]))
    assert "cannot draw results.png" in line and not out.exists()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "loss.png").write_text("an earlier figure")
    one_line_error(CliRunner().invoke(cli, ["plot", str(runs), "--out", str(tmp_path / "kept")]))
    assert [p.name for p in (tmp_path / "kept").iterdir()] == ["loss.png"]
    assert (tmp_path / "kept" / "loss.png").read_text() == "an earlier figure"


def test_plot_without_matplotlib_says_what_to_install(runs, tmp_path):
    import subprocess
    import sys

    code = ("import sys\nsys.modules['matplotlib'] = None\nfrom unfreeze_cli.main import cli\n"
            f"cli(['plot', {str(runs)!r}, '--out', {str(tmp_path / 'p')!r}])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: unfreeze plot needs matplotlib: pip install 'unfreeze[plot]'"
    assert not (tmp_path / "p").exists()
