"""``unfreeze lang-adapter train``: MLM on a frozen base; the madx backend loads what it saves."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from unfreeze_cli.main import cli
from unfreeze_core.errors import UnfreezeError
from unfreeze_core.lang_adapters import LangAdapterConfig, encode, train_language_adapter, warmup_cosine
from unfreeze_core.models import load_mlm_model, load_model

GREEK = ["Ο σκύλος κοιμάται στο σπίτι.", "Η γάτα τρώει ψάρι.", "Το πουλί πετάει ψηλά.", "Το άλογο τρέχει."]


def test_only_the_adapter_trains(tmp_path):
    model, tok = load_mlm_model("tiny")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    loss = train_language_adapter(model, tok, encode(GREEK, tok, 64), "el", tmp_path / "el",
                                  LangAdapterConfig(steps=3, batch_size=2, lr=1e-2), log=lambda _: None)
    assert loss > 0
    changed = {n for n, p in model.named_parameters() if n not in before or not torch.equal(before[n], p)}
    assert changed and all(".el." in n for n in changed)
    assert any("invertible_adapters.el" in n for n in changed)  # seq_bn_inv
    assert not any(n.startswith("lm_head") for n in changed)
    config = (tmp_path / "el" / "adapter_config.json").read_text()
    assert '"reduction_factor": 2' in config and '"inv_adapter": "nice"' in config


def test_warmup_cosine_schedule_and_safetensors(tmp_path):
    assert [round(warmup_cosine(s, 2, 10), 3) for s in (0, 1, 2, 6, 10)] == [0.5, 1.0, 1.0, 0.5, 0.0]
    assert LangAdapterConfig(steps=120, warmup_fraction=0.05).warmup_steps() == 6
    with pytest.raises(UnfreezeError):
        LangAdapterConfig(lr_schedule="linear")
    model, tok = load_mlm_model("tiny")
    config = LangAdapterConfig(steps=2, batch_size=2, lr_schedule="warmup_cosine", use_safetensors=True)
    train_language_adapter(model, tok, encode(GREEK, tok, 64), "el", tmp_path / "el", config, log=lambda _: None)
    assert (tmp_path / "el" / "adapter.safetensors").is_file()
    fresh, _ = load_mlm_model("tiny")
    assert fresh.load_adapter(str(tmp_path / "el"), load_as="el", use_safetensors=True) == "el"


def test_cli_train_then_madx_loads_it(tmp_path):
    text = tmp_path / "el.txt"
    text.write_text("\n".join(GREEK) + "\n\n", encoding="utf-8")
    out = tmp_path / "adapters"
    result = CliRunner().invoke(cli, ["lang-adapter", "train", "--model", "tiny", "--lang", "el", "--text", str(text),
                                      "--steps", "2", "--batch-size", "2", "--max-length", "32", "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (out / "el" / "adapter_config.json").is_file() and (out / "el" / "adapter.safetensors").is_file()

    from unfreeze_madx import MadX

    model, _ = load_model("tiny")
    model.add_classification_head("task", num_labels=3)
    MadX(MadX.Options(lang_adapters=str(out))).setup(model, train_language="el", languages=["el"], model_name="tiny")
    assert "el" in model.adapters_config.adapters
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and not any(".el." in n for n in trainable)  # the language adapter stays frozen


def test_missing_text_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["lang-adapter", "train", "--model", "tiny", "--lang", "el",
                                      "--text", str(tmp_path / "none.txt"), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "text file not found" in result.output
