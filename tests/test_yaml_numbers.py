"""YAML numbers as users write them: ``lr: 1e-3`` and ``-o stop_z=1e-1`` are floats (YAML 1.1 read them as text)."""

import pytest

from unfreeze_core.components import resolve
from unfreeze_core.config import read_yaml
from unfreeze_core.grid import build_config


@pytest.mark.parametrize("text,value", [("1e-3", 1e-3), ("2E5", 2e5), ("2.5e3", 2500.0), (".5e1", 5.0),
                                        ("1.0e-3", 1e-3), ("0.001", 1e-3)])
def test_a_config_file_reads_exponent_floats(tmp_path, text, value):
    path = tmp_path / "run.yaml"
    path.write_text(f"lr: {text}\nk: 10\nselector: topdown\n")
    assert read_yaml(path)["lr"] == value
    config, _ = build_config(path, {}, [])
    assert config.lr == value and isinstance(config.lr, float)


def test_text_that_only_looks_like_a_number_stays_text(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("a: 1e\nb: abc1e3\nc: 12\n")
    assert read_yaml(path) == {"a": "1e", "b": "abc1e3", "c": 12}


def test_an_option_given_as_1e_1_is_a_float():
    config, pairs = build_config(None, {"selector": "fisher", "model": "tiny"}, ["stop_z=1e-1"])
    assert resolve(config, option_pairs=pairs).options["selector"]["stop_z"] == pytest.approx(0.1)
