"""Every backend this distribution registers passes unfreeze's backend conformance check."""

import pytest

import unfreeze_lora
from unfreeze_core import testing

BACKENDS = testing.registrations(unfreeze_lora)["register_adapter_backends"]
OPTIONS = {}


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_conforms(name):
    units = testing.check_backend(BACKENDS[name], OPTIONS.get(name), model="tiny")
    assert len(units) in (4, 8)
