"""The full fine-tuning backend: units are the encoder layers' own weights; frozen layers stay bit-identical
until their step (checked after every update, from outside the loop), with every selector; the weights
outside the layers follow ``embeddings``; checkpoints resume to the same bytes; the saved model reloads."""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from click.testing import CliRunner  # noqa: E402

import unfreeze_full  # noqa: E402
from unfreeze_core import checkpoint, testing  # noqa: E402
from unfreeze_core.config import RunConfig  # noqa: E402
from unfreeze_full.backend import Full  # noqa: E402

DATA = {"train_limit": 48, "eval_limit": 8, "languages": ["en", "qa"]}  # the world's NLI, a few examples


@pytest.mark.parametrize("model", ["tiny", "tiny-bert", "tiny-deberta"])
@pytest.mark.parametrize("embeddings", ["unit", "head", "frozen"])
def test_the_backend_conforms_on_xlmr_bert_and_deberta(model, embeddings):
    assert testing.registrations(unfreeze_full)["register_adapter_backends"] == {"full": Full}
    units = testing.check_backend(Full, {"embeddings": embeddings}, model=model)
    assert len(units) == 4 + (embeddings == "unit")


# The module names of the checkpoints' classes: mBERT is BertModel, XLM-R XLMRobertaModel, mDeBERTa
# DebertaV2Model, as the tiny models are (same classes, same names; only the sizes differ).
PREFIX = {"tiny": "roberta", "tiny-bert": "bert", "tiny-deberta": "deberta"}
OUTSIDE = {"tiny": {"embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                    "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
                    "embeddings.LayerNorm.bias"},
           "tiny-deberta": {"embeddings.word_embeddings.weight", "embeddings.LayerNorm.weight",
                            "embeddings.LayerNorm.bias", "encoder.rel_embeddings.weight", "encoder.LayerNorm.weight",
                            "encoder.LayerNorm.bias"}}
OUTSIDE["tiny-bert"] = OUTSIDE["tiny"]


@pytest.mark.parametrize("model", ["tiny", "tiny-bert", "tiny-deberta"])
def test_each_unit_is_one_layers_own_weights_and_the_outside_is_unit_0(model):
    backend = Full()
    built, _, units = testing.build_model(backend, model=model)
    prefix = PREFIX[model]
    for layer in range(4):
        own = {n for n, _ in built.named_parameters() if n.startswith(f"{prefix}.encoder.layer.{layer}.")}
        assert {n for n, _ in units[layer + 1]} == own and len(own) == 16
    assert {n for n, _ in units[0]} == {f"{prefix}.{n}" for n in OUTSIDE[model]}
    trainable = {n for n, p in built.named_parameters() if p.requires_grad}
    held = {n for params in units.values() for n, _ in params}
    assert trainable == held | {n for n, _ in built.named_parameters() if n.startswith("heads.")}  # not the pooler


@pytest.mark.parametrize("embeddings", ["head", "frozen"])
def test_the_outside_trains_with_the_head_or_never(embeddings):
    backend = testing.make(Full, {"embeddings": embeddings})
    built, _, units = testing.build_model(backend, model="tiny-deberta")
    outside = {f"deberta.{n}" for n in OUTSIDE["tiny-deberta"]}
    flags = {n: p.requires_grad for n, p in built.named_parameters() if n in outside}
    assert set(flags) == outside and set(flags.values()) == {embeddings == "head"}
    assert set(backend.shared_parameters(built)) == (outside if embeddings == "head" else set())
    assert sorted(units) == [0, 1, 2, 3] and {n for n, _ in units[0]} == \
        {n for n, _ in built.named_parameters() if n.startswith("deberta.encoder.layer.0.")}


def test_a_bad_policy_and_a_model_without_layers_are_one_line():
    from unfreeze_core.errors import UnfreezeError

    with pytest.raises(UnfreezeError, match="embeddings must be one of unit, head, frozen, got 'some'"):
        testing.make(Full, {"embeddings": "some"})
    from unfreeze_full.backend import parts

    with pytest.raises(ValueError, match="has no distinct body"):
        parts(torch.nn.Linear(2, 2))


def trainer_run(tmp_path, selector, embeddings="unit", steps=12, **settings):
    """One seed on the tiny XLM-R, snapshots of every parameter after each update (from outside the loop:
    the Trainer's progress callable)."""
    from accelerate import Accelerator

    from unfreeze_core.components import build
    from unfreeze_core.plugins import get_plugins
    from unfreeze_core.training import Trainer

    config = RunConfig(task="nli", model="tiny", adapter="full", selector=selector, k=2, steps=steps, batch_size=8,
                       lr=1e-3, weight_decay=0.01, log_every=4, checkpoint_every=0, output_dir=str(tmp_path),
                       **settings)
    config.options["task"] = dict(DATA)
    config.options["adapter"] = {"embeddings": embeddings}
    plugins = get_plugins()
    taken = {}

    def take(done, *rest):
        taken[done] = {n: p.detach().clone() for n, p in trainer.inner_model.named_parameters()}

    trainer = Trainer(config, build(config, plugins), Accelerator(cpu=True), seed=3, run_dir=tmp_path / "run",
                      hook=plugins.hook, progress=take)
    trainer.build()
    take(0)
    trainer.build = lambda: None  # built already: the snapshot of update 0 is of this model
    trainer.run()
    return trainer, taken


@pytest.mark.parametrize("selector,expected", [
    ("standard", {0: [0, 1, 2, 3, 4]}), ("topdown", {0: [4], 2: [3], 4: [2], 6: [1], 8: [0]}),
    ("lpft", {2: [0, 1, 2, 3, 4]}), ("fisher", None)])
def test_a_frozen_layer_is_bit_identical_until_its_step_and_moves_right_after(tmp_path, selector, expected):
    settings = {"fisher_batches": 1} if selector == "fisher" else {}
    trainer, taken = trainer_run(tmp_path, selector, **settings)
    events = trainer.schedule.events
    if expected is not None:
        assert {e["step"]: e["units"] for e in events} == expected
    else:  # FUN on whole layers: tr(F) of every layer, one unit unfrozen every k steps
        assert sorted(u for e in events for u in e["units"]) == [0, 1, 2, 3, 4]
        assert [len(e.get("scores", {})) for e in events] == [5, 5, 5, 5, 0]  # every layer scored; the last: no choice
    names = {u: [n for n, _ in params] for u, params in trainer.prepared.units.items()}
    for event in events:
        for unit in event["units"]:
            step = event["step"]
            for done in range(1, step + 1):  # unfrozen at step s: untouched by updates 1..s (weight decay on)
                assert all(torch.equal(taken[done][n], taken[0][n]) for n in names[unit]), (unit, done)
            assert not all(torch.equal(taken[step + 1][n], taken[step][n]) for n in names[unit]), unit
    last = max(taken)
    pooler = [n for n in taken[0] if ".pooler." in n]
    assert pooler and all(torch.equal(taken[last][n], taken[0][n]) for n in pooler)  # never trained


def test_frozen_embeddings_never_move_and_shared_ones_move_from_step_0(tmp_path):
    for embeddings, moves in (("frozen", False), ("head", True)):
        _, taken = trainer_run(tmp_path / embeddings, "topdown", embeddings=embeddings, steps=8)
        emb = [n for n in taken[0] if ".embeddings." in n and "token_type" not in n]
        assert emb and any(not torch.equal(taken[1][n], taken[0][n]) for n in emb) == moves, embeddings


def cli_run(out, *extra):
    from unfreeze_cli.main import cli

    args = ["run", "--model", "tiny", "--adapter", "full", "--selector", "topdown", "--k", "1", "--steps", "8",
            "--lr", "1e-3", "--batch-size", "8", "--checkpoint-every", "4", "--threads", "1",
            "-o", "train_limit=48", "-o", "eval_limit=8", "-o", "languages=en,qa", "--output-dir", str(out), *extra]
    return CliRunner().invoke(cli, args), out / "nli-full-topdown" / "seed1"


class Died(Exception):
    pass


def test_a_resumed_run_ends_with_the_bytes_of_an_unbroken_one(tmp_path, monkeypatch):
    """Killed right after its step-4 checkpoint (units 4 .. 1 unfrozen, the embeddings not yet), resumed from the
    folder: the same saved model, schedule, log and results as a run that never stopped. The checkpoint holds
    the trained base weights of the unfrozen layers."""
    from safetensors.torch import load_file

    from unfreeze_cli.main import cli

    done, whole = cli_run(tmp_path / "whole")
    assert done.exit_code == 0, done.output
    real_save = checkpoint.save

    def save_then_die(run_dir, **state):
        real_save(run_dir, **state)
        if state["step"] == 4:
            raise Died

    monkeypatch.setattr(checkpoint, "save", save_then_die)
    died, broken = cli_run(tmp_path / "broken")
    monkeypatch.setattr(checkpoint, "save", real_save)
    assert died.exit_code == 1 and not (broken / "results.json").exists()
    saved = checkpoint.load(broken)
    assert "roberta.encoder.layer.3.output.dense.weight" in saved["weights"]  # unit 4, unfrozen at step 0
    assert sorted(saved["schedule"]["trainable"]) == [1, 2, 3, 4]  # unfrozen at steps 0..3; unit 0 joins at 4
    resumed = CliRunner().invoke(cli, ["run", "--resume", str(broken)])
    assert resumed.exit_code == 0, resumed.output
    a, b = (load_file(str(d / "task_adapter" / "model.safetensors")) for d in (whole, broken))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for name in ("schedule.json", "results.json"):
        assert (whole / name).read_text() == (broken / name).read_text(), name
    assert log_lines(whole) == log_lines(broken)  # every line, the wall time aside


def log_lines(run_dir) -> list[dict]:
    lines = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "elapsed_s"} for line in lines]


def test_the_saved_model_reloads_with_its_head(tmp_path):
    from adapters import AutoAdapterModel

    from unfreeze_core.models import byte_tokenizer

    done, run_dir = cli_run(tmp_path)
    assert done.exit_code == 0, done.output
    inputs = byte_tokenizer()(["a premise"], ["a hypothesis"], return_tensors="pt")
    trained = load_file_model(run_dir)
    reloaded = AutoAdapterModel.from_pretrained(str(run_dir / "task_adapter")).eval()
    assert "task" in reloaded.heads
    assert torch.allclose(reloaded(**inputs).logits, trained(**inputs).logits, atol=1e-6)
    assert json.loads((run_dir / "plugins.json").read_text())["adapter"]["name"] == "full"


def load_file_model(run_dir):
    """The tiny model with the task's head, every weight set from the saved file by name."""
    from safetensors.torch import load_file

    from unfreeze_core.models import load_model

    model, _ = load_model("tiny")
    model.add_classification_head("task", num_labels=3)
    state = load_file(str(run_dir / "task_adapter" / "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected
    return model.eval()


def test_a_base_weights_unit_holding_the_task_head_is_refused():
    """trains_base_weights lets units hold the body's weights, never the head's (which trains from step 0)."""
    from unfreeze_core.backend_checks import set_up
    from unfreeze_core.models import load_model

    class HeadInAUnit(Full):
        def units(self, model):
            units = super().units(model)
            units[0] = units[0] + [(n, p) for n, p in model.named_parameters() if n.startswith("heads.")]
            return units

    model, _ = load_model("tiny")
    model.add_classification_head("task", num_labels=3)
    with pytest.raises(ValueError, match=r"unit 0 holds heads\.task\.1\.weight, a weight of the task head"):
        set_up(HeadInAUnit(), model, train_language="en", languages=["en"], model_name="tiny")


def test_every_estimator_scores_whole_layers_and_exact_is_eq_1():
    """exact, batch and official give one finite tr(F) per layer (and the embeddings) and change no weight; exact
    (nn.Linear decomposed, LayerNorms and embeddings by its per-example loop) equals the reference loop."""
    pytest.importorskip("unfreeze_fisher")
    from unfreeze_core.fisher import estimation_mode, fisher_scores
    from unfreeze_core.tasks.classification import NLI
    from unfreeze_fisher import Batch, Exact, Official, one_by_one

    torch.manual_seed(0)
    task = NLI(NLI.Options(train_limit=8))
    backend = Full()
    model, tokenizer, _ = testing.build_model(backend, model="tiny", task=task)
    data = task.train_dataset(tokenizer)
    collate = task.collate(tokenizer)
    batches = [collate([data[i] for i in range(b * 4, b * 4 + 4)]) for b in range(2)]
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    scores = {cls.__name__: fisher_scores(model, backend, task, cls(), batches, torch.Generator().manual_seed(1),
                                          in_place=True) for cls in (Exact, Batch, Official)}
    for name, found in scores.items():
        assert sorted(found) == [0, 1, 2, 3, 4] and all(v > 0 and v == v for v in found.values()), name
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    units = backend.units(model)
    with torch.enable_grad(), estimation_mode(model, units):
        ref = one_by_one(model, units=units, task=task, batches=batches, generator=torch.Generator().manual_seed(1))
    assert all(abs(scores["Exact"][u] - ref[u]) / ref[u] < 1e-4 for u in ref), (scores["Exact"], ref)
