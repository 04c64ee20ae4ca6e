"""``unfreeze run --report-to``: accelerate's trackers get the configuration, loss, lr, trainable units,
tr(F), validation, unfreeze events and the final scores; TensorBoard is read back offline; a tracker
that is unknown, not installed or cannot start is one line, never a traceback."""

import json

import pytest
from click.testing import CliRunner

from unfreeze_cli.main import cli


def run_cli(args):
    return CliRunner().invoke(cli, ["run", *args])


def test_report_to_tensorboard_logs_every_kind_of_record(nli_dir, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = run_cli(["--model", "tiny", "-o", "lang_adapters=fresh", "--data-dir", str(nli_dir), "--languages", "en,de",
                      "-o", "task.train_limit=48", "-o", "task.eval_limit=8", "--selector", "fisher",
                      "--fisher-batches", "2", "--k", "2", "--steps", "8", "--batch-size", "8",
                      "--fisher-every", "4", "--fisher-batches", "2", "--eval-every", "4",
                      "--report-to", "tensorboard", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "nli-madx-fisher-exact" / "seed1"
    files = list((run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    scalars = {}
    for path in files:
        acc = EventAccumulator(str(path))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            scalars[tag] = {(e.step, e.value) for e in acc.Scalars(tag)}
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    losses = [r for r in log if "loss" in r]
    assert {step for step, _ in scalars["loss"]} == {r["step"] for r in losses}
    last = losses[-1]
    assert dict(scalars["loss"])[last["step"]] == pytest.approx(last["loss"], rel=1e-6)
    assert {"lr", "trainable_units", "fisher/unit_0", "fisher/unit_3", "fisher/sum_trainable", "fisher/per_trainable",
            "validation/accuracy", "unfreeze/trainable_units", "unfreeze/score_0", "test/en/accuracy",
            "test/de/accuracy", "test/avg_xling", "test/lowest"} <= set(scalars)
    tracked = [r for r in log if "fisher" in r]
    assert {s for s, _ in scalars["fisher/unit_0"]} == {r["step"] for r in tracked} == {0, 4}
    [(_, value)] = [p for p in scalars["fisher/unit_0"] if p[0] == 0]
    assert value == pytest.approx(tracked[0]["fisher"]["0"], rel=1e-6)
    events = json.loads((run_dir / "schedule.json").read_text())
    assert {s for s, _ in scalars["unfreeze/trainable_units"]} == {e["step"] for e in events}
    results = json.loads((run_dir / "results.json").read_text())
    [(_, de)] = scalars["test/de/accuracy"]
    assert de == pytest.approx(results["scores"]["de"])
    hparams = list((run_dir / "tensorboard").rglob("hparams.yml"))
    assert hparams and "selector: fisher" in hparams[0].read_text()


@pytest.mark.parametrize("name", ["wandb", "mlflow", "trackio"])
def test_a_tracker_that_is_not_installed_is_one_line(name, nli_dir, tmp_path):
    import importlib.util

    if importlib.util.find_spec(name) is not None:
        pytest.skip(f"{name} is installed here")
    result = run_cli(["--model", "tiny", "--data-dir", str(nli_dir), "--report-to", name, "--output-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: --report-to {name}: the {name} package is not installed (pip install {name})"


def test_an_unknown_tracker_is_one_line(tmp_path):
    result = run_cli(["--report-to", "tensorboard,nope", "--output-dir", str(tmp_path)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: --report-to nope: unknown tracker")


def test_a_tracker_that_cannot_start_is_one_line(tmp_path):
    from accelerate import Accelerator
    from accelerate.tracking import GeneralTracker

    from unfreeze_core.config import RunConfig
    from unfreeze_core.errors import UnfreezeError
    from unfreeze_core.trackers import Trackers

    class Offline(GeneralTracker):
        name, requires_logging_directory, main_process_only = "offline", False, False

        def __init__(self):
            super().__init__()

        @property
        def tracker(self):
            return None

        def start(self):
            raise ConnectionError("Failed to resolve 'api.example.org'\nmore lines")

        def store_init_configuration(self, values):
            pass

        def log(self, values, step=None, **kwargs):
            pass

        def finish(self):  # as accelerate's WandBTracker after a refused start: its run was never made
            self.run.finish()

    accelerator = Accelerator(cpu=True, log_with=[Offline()])
    config = RunConfig(report_to=["wandb"])
    with pytest.raises(UnfreezeError) as caught:
        Trackers(accelerator, config, 1, tmp_path / "g" / "seed1")
    # the tracker's own refusal, not "unexpected AttributeError: ... has no attribute 'run'" from its clean-up
    assert str(caught.value) == ("--report-to wandb: cannot start the tracker: ConnectionError: Failed to resolve "
                                 "'api.example.org'")
    assert accelerator.trackers == []


def test_a_sweep_cell_reports_to_tensorboard(nli_dir, tmp_path):
    """A cell builds its Accelerator like `unfreeze run` does, trackers included."""
    pytest.importorskip("tensorboard")
    from unfreeze_core.cell import run_cell, write_config

    run_dir = tmp_path / "sweep" / "selector=topdown" / "seed1"
    write_config(run_dir, {"task": "nli", "model": "tiny", "selector": "topdown", "k": 2, "steps": 8, "batch_size": 8,
                           "seeds": [1], "report_to": ["tensorboard"], "output_dir": str(tmp_path / "sweep"),
                           "options": {"adapter": {"lang_adapters": "fresh"},
                                       "task": {"data_dir": str(nli_dir), "languages": ["en"], "train_limit": 48,
                                                "eval_limit": 8}}})
    assert run_cell(run_dir) is not None
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    from unfreeze_core.plugins import get_plugins

    assert get_plugins().manager.get_plugin("unfreeze-trackers") is None  # the next seed or cell registers its own
