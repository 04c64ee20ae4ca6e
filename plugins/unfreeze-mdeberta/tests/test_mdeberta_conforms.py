"""Every backend this distribution registers passes unfreeze's backend conformance check."""

import pytest

import unfreeze_mdeberta
from unfreeze_core import testing

BACKENDS = testing.registrations(unfreeze_mdeberta)["register_adapter_backends"]
OPTIONS = {"mdeberta": {"lang_adapters": "fresh"}}


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_conforms(name):
    units = testing.check_backend(BACKENDS[name], OPTIONS.get(name), model="tiny-deberta")
    assert len(units) in (4, 8)
