"""The built-in results display: each finished seed's table, and the table over seeds after the run's last seed.

A plugin (entry point ``seed_tables`` of the ``unfreeze`` group) implementing ``results_view`` with ``trylast``:
a plugin of your own that returns a view from ``results_view`` replaces it. The view is a listener of
``on_run_end``, registered by the engine for a run's seeds (``runner``), as the progress view is for a seed's
steps; the engine imports nothing of ``unfreeze_report``.
"""

from __future__ import annotations

from unfreeze_core.hookspecs import hookimpl


class SeedTables:
    """Prints a seed's table when it finishes, and on ``close`` the table over the seeds it saw (two or more)."""

    def __init__(self, console):
        self.console, self.results = console, []

    @hookimpl
    def on_run_end(self, run_dir, results):
        from .tables import print_seed

        self.results.append(results)
        print_seed(results, self.console)

    def close(self) -> None:
        if len(self.results) > 1:
            from .results import aggregate
            from .tables import print_rows

            print_rows(aggregate(self.results), self.console)


@hookimpl(trylast=True)
def results_view(console):
    return SeedTables(console)
