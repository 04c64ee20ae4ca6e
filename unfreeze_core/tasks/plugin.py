"""The built-in tasks, registered through the same entry-point group as any plugin's."""

from ..hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    from .classification import NLI, XNLI
    from .multiple_choice import COPA, XCOPA
    from .qa import MLQA, QA, XQuAD

    register("nli", NLI)
    register("xnli", XNLI)
    register("copa", COPA)
    register("xcopa", XCOPA)
    register("qa", QA)
    register("xquad", XQuAD)
    register("mlqa", MLQA)
