"""The engine checks what an adapter backend returns before training (unfreeze_core/backend_checks.py)."""

from __future__ import annotations

import pytest

from unfreeze_core import AdapterBackend, TaskAdapterBackend, hookimpl
from unfreeze_core.backend_checks import set_up
from unfreeze_core.config import RunConfig
from unfreeze_core.errors import UnfreezeError
from unfreeze_core.plugins import get_plugins
from unfreeze_core.runner import run_all


class Bottleneck(TaskAdapterBackend, AdapterBackend):
    """A correct backend: a bottleneck adapter in every layer, one unit each."""

    def setup(self, model, *, train_language, languages, model_name):
        model.add_adapter("task", config="seq_bn")
        model.train_adapter("task")


class OneUnit(Bottleneck):
    """Every layer's adapter as one unit, without saying so in num_units (prefix tuning as the issue met it)."""

    def units(self, model):
        return {0: [p for params in super().units(model).values() for p in params]}


class Overlapping(Bottleneck):
    def units(self, model):
        units = super().units(model)
        units[1] = units[1] + units[0][:1]
        return units


class SharedMatrix(Bottleneck):
    """Trains a parameter shared by every layer (Compacter's phm_rule) that is in no unit."""

    declare = False

    def setup(self, model, **kwargs):
        import torch

        super().setup(model, **kwargs)
        model.base_model.shared_rule = torch.nn.Parameter(torch.zeros(4))

    def shared_parameters(self, model):
        return [n for n, _ in model.named_parameters() if n.endswith("shared_rule")] if self.declare else []


class WrappedQuery(Bottleneck):
    """Units named by module, as a user wrote them: the query layers, whose weights are the base model's."""

    allow = False

    def units(self, model):
        layers = model.base_model.encoder.layer
        return {i: [(f"layer{i}.query.{n}", p) for n, p in layer.attention.self.query.named_parameters()]
                for i, layer in enumerate(layers)}

    @property
    def trains_base_weights(self):
        return self.allow


def model_with_head():
    from unfreeze_core.models import load_model
    from unfreeze_core.tasks.classification import NLI

    model, _ = load_model("tiny")
    NLI().add_head(model)
    return model


def setup(backend):
    return set_up(backend, model_with_head(), train_language="en", languages=["en"], model_name="tiny")


def test_a_correct_backend_passes():
    assert sorted(setup(Bottleneck())) == [0, 1, 2, 3]


def test_one_unit_where_num_units_says_four_is_refused():
    with pytest.raises(ValueError, match=r"^it made 1 units where num_units\(model.config\) says 4"):
        setup(OneUnit())


def test_overlapping_units_are_refused_naming_the_parameter():
    with pytest.raises(ValueError, match=r"^units 0 and 1 both hold roberta\.encoder\.layer\.0\.output"):
        setup(Overlapping())


def test_a_trained_parameter_in_no_unit_is_refused_by_name_unless_declared():
    with pytest.raises(ValueError, match=r"^roberta\.shared_rule trains but is in no unit and not the head"):
        setup(SharedMatrix())
    declared = SharedMatrix()
    declared.declare = True
    assert len(setup(declared)) == 4


def test_a_unit_of_base_weights_is_refused_unless_the_backend_says_so():
    with pytest.raises(ValueError, match=r"^unit 0 holds roberta\.encoder\.layer\.0\.attention\.self\.query\.weight, "
                                         r"a weight of the base model"):
        setup(WrappedQuery())
    allowed = WrappedQuery()
    allowed.allow = True
    with pytest.raises(ValueError, match="frozen weight outside the adapters"):  # still frozen by setup
        setup(allowed)


def test_a_run_with_a_bad_backend_stops_with_one_line_naming_the_plugin(nli_dir, tmp_path):
    class Careless:
        @hookimpl
        def register_adapter_backends(self, register):
            register("one-unit", OneUnit)

    plugins = get_plugins()
    plugins.register(Careless(), name="careless")
    try:
        config = RunConfig(model="tiny", adapter="one-unit", selector="bottomup", k=2, steps=8, batch_size=8,
                           output_dir=str(tmp_path))
        config.options["task"] = {"data_dir": str(nli_dir), "eval_limit": 8, "languages": ["en"]}
        with pytest.raises(UnfreezeError) as err:
            run_all(config)
    finally:
        plugins.unregister("careless")
    assert str(err.value).startswith("adapter 'one-unit' (plugin careless): it made 1 units where")
    assert "\n" not in str(err.value)
