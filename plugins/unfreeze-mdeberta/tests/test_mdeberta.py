"""The DeBERTa-v2 (mDeBERTa v3) backends on a tiny DebertaV2Config model."""

from __future__ import annotations

import pytest

from unfreeze_core.errors import UnfreezeError
from unfreeze_core.lang_adapters import LangAdapterConfig, encode, train_language_adapter
from unfreeze_core.models import load_mlm_model, load_model
from unfreeze_mdeberta import MDebertaLoRA, MDebertaMadX, lora_targets


def test_lora_targets_query_and_value_proj():
    model, _ = load_model("tiny-deberta")
    model.add_classification_head("task", num_labels=3)
    backend = MDebertaLoRA()
    backend.setup(model, train_language="en", languages=["en"], model_name="tiny-deberta")
    targets = lora_targets(model)
    assert sorted(targets) == [0, 1, 2, 3]
    assert all(sorted(names) == ["query_proj", "value_proj"] for names in targets.values())
    units = backend.units(model)
    assert sorted(units) == [0, 1, 2, 3] and all(len(params) == 4 for params in units.values())  # q, v: A and B


def test_madx_requires_self_trained_language_adapters():
    with pytest.raises(ValueError, match="lang_adapters is required"):
        MDebertaMadX.Options()


def test_backends_reject_other_models():
    model, _ = load_model("tiny")
    with pytest.raises(UnfreezeError, match="DeBERTa-v2"):
        MDebertaLoRA().setup(model, train_language="en", languages=["en"], model_name="tiny")


def test_madx_over_a_self_trained_language_adapter(tmp_path):
    mlm, tok = load_mlm_model("tiny-deberta")
    for lang, text in (("en", ["the dog sleeps", "a cat eats"]), ("th", ["หมานอน", "แมวกิน"])):
        mlm, tok = load_mlm_model("tiny-deberta")
        train_language_adapter(mlm, tok, encode(text, tok, 32), lang, tmp_path / lang,
                               LangAdapterConfig(steps=1, batch_size=2), log=lambda _: None)
    model, _ = load_model("tiny-deberta")
    model.add_classification_head("task", num_labels=3)
    backend = MDebertaMadX(MDebertaMadX.Options(lang_adapters=str(tmp_path)))
    backend.setup(model, train_language="en", languages=["en", "th"], model_name="tiny-deberta")
    assert {"en", "th", "task"} <= set(model.adapters_config.adapters)
    backend.activate_language(model, "th")
    assert str(model.active_adapters) == "Stack[th, task]"
    assert sorted(backend.units(model)) == [0, 1, 2, 3]
