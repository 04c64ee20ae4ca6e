"""The slurm launcher passes unfreeze's launcher conformance check, on submitit's local executor."""

import pytest

import unfreeze_slurm
from unfreeze_core import testing


def test_the_slurm_launcher_conforms_on_submitits_local_executor(tmp_path):
    pytest.importorskip("submitit")
    launcher = testing.registrations(unfreeze_slurm)["register_launchers"]["slurm"]
    testing.check_launcher(launcher, {"cluster": "local", "poll_s": 0.5}, folder=tmp_path)
