"""Every tr(F) estimator this distribution registers passes unfreeze's estimator conformance check."""

import pytest

import unfreeze_fisher
from unfreeze_core import testing

ESTIMATORS = testing.registrations(unfreeze_fisher)["register_fisher_estimators"]


def test_it_registers_exact_batch_and_official():
    assert {"exact", "batch", "official"} <= set(ESTIMATORS)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_estimator_conforms(name):
    scores = testing.check_estimator(ESTIMATORS[name])
    assert any(v > 0 for v in scores.values())
