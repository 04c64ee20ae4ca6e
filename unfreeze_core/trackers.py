"""Experiment trackers (``--report-to tensorboard wandb mlflow trackio ...``) through accelerate.

``Accelerator(log_with=...)`` names the trackers; per seed, ``Trackers`` starts them with
``init_trackers`` (the run's configuration as hyperparameters) and is registered as an event-hook
watcher: it turns the typed records (``events.py``) into ``accelerator.log`` calls. Trackers log on the
main process only. TensorBoard writes into ``<run_dir>/tensorboard/unfreeze/``; wandb, MLflow and
trackio get the project (experiment) ``unfreeze`` and the run name ``<group>/seed<N>``.
"""

from __future__ import annotations

from pathlib import Path

from .config import TRACKERS as NAMES
from .errors import UnfreezeError, first_line
from .hookspecs import hookimpl

PROJECT = "unfreeze"


def check(names: list[str]) -> None:
    """Known and installed, or a one-line error (no import of the trackers themselves)."""
    for name in names:
        if name not in NAMES:
            raise UnfreezeError(f"--report-to {name}: unknown tracker (known: {', '.join(NAMES)})")
    if names:
        from accelerate.tracking import get_available_trackers

        available = {str(t) for t in get_available_trackers()}
        for name in names:
            if name not in available:
                raise UnfreezeError(f"--report-to {name}: the {name} package is not installed (pip install {name})")


def accelerator_kwargs(names: list[str], logging_dir) -> dict:
    """``Accelerator`` arguments for the trackers ``names`` (none: no tracking)."""
    check(names)
    return {"log_with": list(names), "project_dir": str(logging_dir)} if names else {}


def flat_config(config) -> dict:
    """The RunConfig as scalar hyperparameters (lists joined, plugin options as ``options.KIND.KEY``)."""
    def scalar(value):
        if isinstance(value, (list, tuple)):
            return ",".join(map(str, value))
        return value if isinstance(value, (bool, int, float, str)) else str(value)

    values = config.as_dict()
    options = values.pop("options", {}) or {}
    flat = {key: scalar(value) for key, value in values.items()}
    flat.update({f"options.{kind}.{key}": scalar(value) for kind, block in options.items() for key, value in block.items()})
    return flat


class Trackers:
    """One seed's trackers, fed by the event hooks; ``finish()`` closes them (the next seed starts anew)."""

    def __init__(self, accelerator, config, seed: int, run_dir: Path):
        self.accelerator, self.trainable, self.step = accelerator, 0, 0
        run_dir = Path(run_dir)
        label = f"{run_dir.parent.name}/{run_dir.name}"
        accelerator.project_configuration.logging_dir = str(run_dir / "tensorboard")
        kwargs = {"wandb": {"name": label}, "mlflow": {"run_name": label}, "trackio": {"name": label}}
        try:
            accelerator.init_trackers(PROJECT, config=flat_config(config) | {"seed": seed}, init_kwargs=kwargs)
        except Exception as exc:  # no network, no account, a refused login ...: the tracker's own words, one line
            self.finish(quietly=True)  # a tracker that never started cannot finish (wandb: no attribute 'run')
            raise UnfreezeError(f"--report-to {', '.join(config.report_to)}: cannot start the tracker: "
                                f"{type(exc).__name__}: {first_line(exc)}") from None

    def log(self, values: dict, step: int) -> None:
        self.accelerator.log(values, step=step)

    @hookimpl
    def on_loss(self, record):
        self.step = record.step
        self.log({"loss": record.loss, "lr": record.lr, "trainable_units": len(record.trainable_units)}, record.step)

    @hookimpl
    def on_validation(self, record):
        self.log({f"validation/{metric}": value for metric, value in record.scores.items()}, record.step)

    @hookimpl
    def on_fisher(self, record):
        self.log(record.metrics(), record.step)

    @hookimpl
    def on_unfreeze(self, step, record):
        self.trainable += len(record.units)
        self.log(record.metrics(self.trainable), step)

    @hookimpl
    def on_evaluate(self, lang, scores):
        self.log({f"test/{lang}/{metric}": value for metric, value in scores.items()}, self.step)

    @hookimpl
    def on_run_end(self, run_dir, results):
        values = {}
        if results.get("avg_xling") is not None:
            values["test/avg_xling"] = results["avg_xling"]
        if results.get("lowest"):
            values["test/lowest"] = results["lowest"]["score"]
        if values:
            self.log(values, self.step)

    def finish(self, quietly: bool = False) -> None:
        """Close every tracker; ``quietly``: after a failed start, where a tracker's own clean-up may fail too
        (its failure must not hide why it did not start)."""
        try:
            for tracker in self.accelerator.trackers:
                try:
                    tracker.finish()
                except Exception:
                    if not quietly:
                        raise
        finally:
            self.accelerator.trackers.clear()
