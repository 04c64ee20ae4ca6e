"""The built-in progress display: a rich bar per seed (step, loss, trainable units, the last unfreeze).

It is a plugin (entry point ``progress`` of the ``unfreeze`` group) implementing ``progress_view`` with
``trylast``: a plugin of your own that returns a view from ``progress_view`` replaces it. The view is a
listener of the seed's typed events (``on_step``, ``on_unfreeze``), registered for that seed only.
"""

from __future__ import annotations

from unfreeze_core.hookspecs import hookimpl


class RichProgress:
    """One seed's bar; shown from its first step, so a run refused while building prints only its one line."""

    def __init__(self, console, seed: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("loss {task.fields[loss]}"), TextColumn("trainable {task.fields[units]}"),
                                 TextColumn("last {task.fields[last]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=console, transient=False)
        self.bar = self.progress.add_task(f"seed {seed}", total=None, loss="-", units="-", last="-")
        self.last = "-"

    @hookimpl
    def on_unfreeze(self, record):
        units = record.units
        self.last = (",".join(map(str, units)) if len(units) <= 3 else f"{len(units)} units") + f" @{record.step}"

    @hookimpl
    def on_step(self, record):
        if not self.progress.live.is_started:
            self.progress.start()
        self.progress.update(self.bar, completed=record.step, total=record.steps, loss=f"{record.loss:.3f}",
                             units=f"{len(record.trainable_units)}", last=self.last)

    def close(self) -> None:
        self.progress.stop()


@hookimpl(trylast=True)
def progress_view(console, seed):
    return RichProgress(console, seed)
