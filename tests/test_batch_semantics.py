"""Multi-process semantics: --batch-size is one optimizer step's batch, --epochs counts passes over the whole
training set, seeds in one process free each other's objects, train_limit is a seeded random subset."""


import pytest
import yaml

from test_training import tiny_config
from unfreeze_core.hookspecs import hookimpl
from unfreeze_core.plugins import get_plugins
from unfreeze_core.runner import run_all


def test_batch_size_and_epochs_mean_the_same_on_one_and_two_processes(ddp_suite):
    """--batch-size is the batch of one optimizer step and --epochs counts passes over the whole training set,
    so 1 and 2 processes run the same number of steps and the same schedule; one epoch on 2 processes
    sees each of the 64 training examples once."""
    (one,) = ddp_suite.records("batch", processes=1)  # tests/ddp_suite.py
    two = ddp_suite.records("batch", processes=2)
    assert one["steps"] == two[0]["steps"] == two[1]["steps"] == 64 // 16
    assert one["events"] == two[0]["events"] == two[1]["events"]
    assert one["split"] == {"processes": 1, "grad_accum": 1, "per_process": 16}
    assert two[0]["split"] == {"processes": 2, "grad_accum": 1, "per_process": 8}
    assert len(two[0]["seen"]) == len(two[1]["seen"]) == 32
    assert sorted(two[0]["seen"] + two[1]["seen"]) == sorted(two[0]["train"]) == sorted(one["seen"])


def test_the_batch_must_split_over_processes_and_accumulation(nli_dir, tmp_path):
    from unfreeze_core.errors import UnfreezeError
    from unfreeze_core.training import batch_split

    config = tiny_config(nli_dir, tmp_path, batch_size=12, grad_accum=2)
    assert batch_split(config, 2) == {"processes": 2, "grad_accum": 2, "per_process": 3}
    with pytest.raises(UnfreezeError, match="--batch-size 12 .* must divide by processes x --grad-accum = 5 x 2"):
        batch_split(config, 5)
    config = tiny_config(nli_dir, tmp_path, batch_size=8, grad_accum=2, steps=4, selector="standard")
    run_all(config)
    written = yaml.safe_load(next((tmp_path / "runs").rglob("config.yaml")).read_text())
    assert written["batch_split"] == {"processes": 1, "grad_accum": 2, "per_process": 4}


def test_several_seeds_in_one_process_free_the_previous_seed(nli_dir, tmp_path):
    import gc

    from adapters import ModelAdaptersMixin

    live = []

    class Counter:
        @hookimpl
        def on_run_start(self, run_dir, config):
            gc.collect()
            live.append(sum(1 for o in gc.get_objects() if isinstance(o, ModelAdaptersMixin)))

    plugins = get_plugins()
    plugins.register(Counter(), name="counter")
    try:
        run_all(tiny_config(nli_dir, tmp_path, selector="standard", steps=2, seeds=[1, 2, 3]))
    finally:
        plugins.unregister("counter")
    assert live == [0, 0, 0], "a seed starts with no earlier seed's model alive"


def test_train_limit_is_a_seeded_random_subset_not_the_first_rows():
    import datasets

    from unfreeze_core.tasks.data import sample

    data = datasets.Dataset.from_dict({"i": list(range(1000))})
    picked = sample(data, 50)["i"]
    assert picked == sample(data, 50)["i"] and len(set(picked)) == 50
    assert picked != list(range(50)) and max(picked) > 500
