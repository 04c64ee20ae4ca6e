"""The built-in tasks, registered through the same entry-point group as any plugin's."""

from ..hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    from .classification import NLI

    register("nli", NLI)
