"""Every selector this distribution registers passes unfreeze's selector conformance check."""

import pytest

import unfreeze_selectors
from unfreeze_core import testing

SELECTORS = testing.registrations(unfreeze_selectors)["register_selectors"]
OPTIONS = {"permutation": ({"order": "3,1,0,2"}, True, (4,)), "surgical": ({"units": "0,2"}, False, (4, 8))}


def test_it_registers_the_papers_selectors():
    assert {"standard", "topdown", "bottomup", "lpft", "surgical", "random", "permutation", "fisher"} <= set(SELECTORS)


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_every_selector_conforms(name):
    options, every_unit, sizes = OPTIONS.get(name, (None, True, (1, 4, 8)))
    testing.check_selector(SELECTORS[name], options, every_unit=every_unit, sizes=sizes)
