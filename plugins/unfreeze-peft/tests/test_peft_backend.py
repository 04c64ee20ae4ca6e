"""The PEFT backends: units per layer that hold only adapter weights, the engine's checks and the plugin
conformance check, FUN's exact estimator on PEFT's layers against a per-example loop, saving and reloading,
and `unfreeze run --adapter peft-lora`."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("peft")  # the plugin's dependency (setup.sh installs it; `pip install -e plugins/unfreeze-peft`)

import torch  # noqa: E402

from peft_fixtures import tiny_dataset, tiny_peft_classifier, world_records
from unfreeze_core.backend_checks import check_units, set_up
from unfreeze_core.integrations.transformers import LogitsOf
from unfreeze_peft.backend import PeftIA3, PeftLoRA, load_saved


def engine_model(name="tiny"):
    from unfreeze_core.models import load_model
    from unfreeze_core.tasks.classification import NLI

    torch.manual_seed(0)  # the tiny model is random: the same base every time
    model, tokenizer = load_model(name)
    NLI().add_head(model)
    return model, tokenizer


@pytest.mark.parametrize("cls,parts", [(PeftLoRA, {"lora_A", "lora_B"}), (PeftIA3, {"ia3_l"})])
def test_one_unit_per_layer_holding_only_the_adapter(cls, parts):
    model, _ = engine_model()
    backend = cls()
    units = set_up(backend, model, train_language="en", languages=["en"], model_name="tiny")  # the engine's checks
    assert sorted(units) == [0, 1, 2, 3]
    for unit, params in units.items():
        assert params and all(f"layer.{unit}." in name for name, _ in params)
        assert {name.split(".")[-2] if name.endswith(".default") else name.split(".")[-3] for name, _ in params} \
            <= parts, params
        assert all(p.requires_grad for _, p in params)
    unit_ids = {id(p) for params in units.values() for _, p in params}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in unit_ids]
    assert trainable and all(n.startswith("heads.") for n in trainable)  # the head, nothing of the base model


def test_the_units_of_a_peft_model_never_hold_the_wrapped_base_weights():
    model, _ = tiny_peft_classifier()
    units = PeftLoRA().units(model)
    assert sorted(units) == [0, 1, 2, 3]
    assert all("base_layer" not in name for params in units.values() for name, _ in params)
    assert [len(params) for params in units.values()] == [4, 4, 4, 4]  # q and v: lora_A, lora_B
    check_units(PeftLoRA(), model, units)  # trainable: units + the classifier (modules_to_save)


def test_a_missing_adapter_and_dora_are_one_line():
    model, _ = tiny_peft_classifier()
    with pytest.raises(ValueError, match=r"^the model has no PEFT adapter 'other' \(active: default"):
        PeftLoRA(PeftLoRA.Options(adapter="other")).units(model)
    dora, _ = tiny_peft_classifier(use_dora=True)
    with pytest.raises(ValueError, match="DoRA"):
        PeftLoRA().units(dora)
    plain, _ = engine_model()
    with pytest.raises(ValueError, match="no PEFT adapter layers"):
        PeftLoRA().units(plain)


def per_example_loop(model, units, batch) -> dict[int, float]:
    """Eq. 1 with argmax ŷ, written independently: one forward and backward per example, Σ grad² per unit."""
    model.eval()
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    n = inputs["input_ids"].shape[0]
    totals = {u: 0.0 for u in units}
    for i in range(n):
        logits = model(**{k: v[i:i + 1] for k, v in inputs.items()}).logits
        logp = torch.log_softmax(logits.double(), -1)[0, logits[0].argmax()]
        for u, params in units.items():
            grads = torch.autograd.grad(logp, [p for _, p in params], retain_graph=True, allow_unused=True)
            totals[u] += sum(float(g.double().pow(2).sum()) for g in grads if g is not None)
    return {u: t / n for u, t in totals.items()}


@pytest.mark.parametrize("method,cls", [("lora", PeftLoRA), ("ia3", PeftIA3)])
def test_the_exact_estimator_on_peft_layers_matches_a_per_example_loop(method, cls):
    from transformers import DataCollatorWithPadding

    from unfreeze_core.fisher import fisher_scores
    from unfreeze_fisher import Exact

    model, tokenizer = tiny_peft_classifier(seed=3, method=method)
    if method == "ia3":
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "ia3_l" in name:
                    p.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(1))
    data = tiny_dataset(tokenizer, 12)
    batch = DataCollatorWithPadding(tokenizer)([data[i] for i in range(12)])
    backend = cls()
    exact = fisher_scores(model, backend, LogitsOf(), Exact(Exact.Options(labels="argmax")), [batch])
    reference = per_example_loop(model, backend.units(model), batch)
    assert sorted(exact) == [0, 1, 2, 3]
    assert all(reference[u] > 0 for u in reference)
    for u in reference:
        assert exact[u] == pytest.approx(reference[u], rel=1e-4), (u, exact, reference)


def test_saved_with_save_pretrained_format_and_reloaded_gives_the_same_outputs(tmp_path):
    from peft import PeftModel

    model, tokenizer = engine_model()
    backend = PeftLoRA()
    set_up(backend, model, train_language="en", languages=["en"], model_name="tiny")
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.1)
    backend.save(model, tmp_path / "adapter")
    assert {"adapter_config.json", "adapter_model.safetensors", "head.safetensors"} <= \
        {f.name for f in (tmp_path / "adapter").iterdir()}
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["peft_type"] == "LORA"
    inputs = tokenizer(["a premise"], ["a hypothesis"], return_tensors="pt")
    model.eval()
    expected = model(**inputs).logits
    fresh, _ = engine_model()
    reloaded = load_saved(fresh, tmp_path / "adapter")
    assert isinstance(reloaded, PeftModel)
    reloaded.eval()
    assert torch.allclose(reloaded(**inputs).logits, expected, atol=1e-6)
    untrained, _ = engine_model()
    untrained.eval()
    assert not torch.allclose(untrained(**inputs).logits, expected, atol=1e-3)  # the check can fail


def test_unfreeze_run_with_peft_lora_trains_units_from_their_step(tmp_path):
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    data = tmp_path / "data"
    for lang, split, n in [("en", "train", 120), ("en", "test", 24), ("qa", "test", 24)]:
        (data / lang).mkdir(parents=True, exist_ok=True)
        (data / lang / f"{split}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in world_records(n, split if split == "train" else "test", lang)))
    result = CliRunner().invoke(cli, ["run", "--model", "tiny", "--adapter", "peft-lora", "--selector", "fisher",
                                      "--k", "2", "--steps", "10", "--batch-size", "8", "--seed", "1",
                                      "--data-dir", str(data), "--fisher-every", "5",
                                      "--fisher-batches", "2", "--output-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    [run] = list((tmp_path / "runs").glob("*/seed1"))
    events = json.loads((run / "schedule.json").read_text())
    assert sorted(u for e in events for u in e["units"]) == [0, 1, 2, 3]
    assert all("scores" in e for e in events[:-1])  # FUN scored with exact on PEFT's layers
    results = json.loads((run / "results.json").read_text())
    assert set(results["scores"]) == {"en", "qa"} if "scores" in results else True
    fisher = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if '"fisher"' in line]
    assert fisher and all(v > 0 for v in fisher[0]["fisher"].values())
    fresh, _ = engine_model()
    load_saved(fresh, run / "task_adapter")  # reloadable


@pytest.mark.parametrize("backend", ["peft-lora", "peft-ia3"])
@pytest.mark.parametrize("value, text", [("a.b", "adapter 'a.b' must be a name"), ("", "adapter '' must be a name")])
def test_an_adapter_name_peft_cannot_use_is_refused_at_resolution(backend, value, text, tmp_path):
    """`-o adapter=a.b` used to pass resolution and fail after the model was built; now one line, nothing made."""
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    result = CliRunner().invoke(cli, ["run", "--model", "tiny", "--adapter", backend, "-o", f"adapter={value}",
                                      "--output-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1 and text in result.output and "unexpected" not in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()
