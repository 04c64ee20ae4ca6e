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
