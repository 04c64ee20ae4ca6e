"""Every backend this distribution registers passes unfreeze's backend conformance check."""

import pytest

import unfreeze_madx
from unfreeze_core import testing

BACKENDS = testing.registrations(unfreeze_madx)["register_adapter_backends"]
OPTIONS = {"madx": None}


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_conforms(name):
    units = testing.check_backend(BACKENDS[name], OPTIONS.get(name), model="world")
    assert len(units) in (4, 8)
