"""Every estimator computes its quantity over the optimizer step's batch, whatever the split (issue 28, item 2):
``--batch-size 8`` as one micro-batch of 8 or four of 2 gives the same tr(F) for ``exact``, ``batch`` and
``official``, and sequential stopping's ``min_batches`` counts step batches. (Two processes against one:
tests/test_fun.py::test_two_processes_read_the_same_examples_and_decide_alike, the same torchrun launch.)"""

import pytest

from unfreeze_core.controller import TrainBatches, Unfreezer
from unfreeze_core.testing import build_model, make
from unfreeze_fisher import Batch, Exact, Official
from unfreeze_selectors import TopDown
from unfreeze_selectors.fun import FUN


@pytest.fixture(scope="module")
def setup(nli_dir):
    from unfreeze_core.tasks.classification import NLI
    from unfreeze_lora import LoRA

    task = make(NLI, {"data_dir": str(nli_dir), "languages": ["en"], "train_limit": 40})
    backend = make(LoRA)
    model, tokenizer, units = build_model(backend, task=task)
    return model, backend, task, units, task.train_dataset(tokenizer), task.collate(tokenizer)


def scores(setup, micro, estimator, batches=3, selector=None):
    model, backend, task, units, data, collate = setup
    unfreezer = Unfreezer(selector or TopDown(), units, k=2, seed=5, backend=backend, task=task, estimator=make(Exact),
                          batches=TrainBatches(data, 8, collate, seed=5, micro=micro))
    return unfreezer.fisher(model, 0, batches, estimator=estimator), unfreezer.last_estimate


@pytest.mark.parametrize("estimator", [Exact, Batch, Official])
def test_every_estimator_is_the_same_at_accumulation_1_and_4(setup, estimator):
    """Planted: normalising per micro-batch (the old batch/official) makes them differ 4-16x here."""
    one, read_one = scores(setup, 8, make(estimator))
    four, read_four = scores(setup, 2, make(estimator))
    assert read_one == read_four == {"batches": 3, "examples": 24}
    assert four == pytest.approx(one, rel=1e-5)
    assert len(set(one.values())) == len(one)  # the units are told apart at all


def test_the_last_step_batch_may_be_short(setup):
    """40 examples in batches of 8 cut into micro-batches of 3 (3 + 3 + 2): the same as uncut."""
    one, _ = scores(setup, 8, make(Batch), batches=5)
    three, _ = scores(setup, 3, make(Batch), batches=5)
    assert three == pytest.approx(one, rel=1e-5)


def test_min_batches_counts_optimizer_step_batches(setup):
    """FUN with sequential stopping that stops as soon as it may (z tiny, min_batches 2) reads 2 step batches
    of 8 whatever the split, and scores alike (planted: counting micro-batches reads 2 of 2 examples at 4)."""
    from unfreeze_core.fisher import StopWhenRanked

    units = list(setup[3])
    wrap = lambda inner: StopWhenRanked(inner, units, z=1e-12, min_batches=2)  # noqa: E731
    one, read_one = scores(setup, 8, wrap, batches=4, selector=make(FUN))
    four, read_four = scores(setup, 2, wrap, batches=4, selector=make(FUN))
    assert read_one == read_four == {"batches": 2, "examples": 16}
    assert four == pytest.approx(one, rel=1e-5)
