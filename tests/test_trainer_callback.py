"""Scheduled unfreezing inside transformers.Trainer / adapters.AdapterTrainer through UnfreezeCallback:
units train exactly from their unfreeze step, the optimizer trap is avoided, events and tr(F) go through
Trainer.log (TensorBoard read back) and schedule.json, DDP ranks unfreeze alike, the documented example runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import DataCollatorWithPadding, Trainer, TrainerCallback

from hf_fixtures import tiny_classifier, tiny_dataset, training_args, unit_weights
from unfreeze_core.errors import UnfreezeError
from unfreeze_core.integrations.transformers import UnfreezeCallback
from unfreeze_core.testing import unit_snapshots

ROOT = Path(__file__).resolve().parents[1]


def trainer_class(name):
    if name == "AdapterTrainer":
        from adapters import AdapterTrainer

        return AdapterTrainer
    return Trainer


@pytest.mark.parametrize("cls", ["Trainer", "AdapterTrainer"])
def test_a_unit_unfrozen_at_step_s_is_unchanged_through_s_and_moves_at_update_s_plus_1(cls, tmp_path):
    model, tokenizer = tiny_classifier()
    callback = UnfreezeCallback(model, selector="topdown", k=2)  # before the Trainer builds its optimizer
    snaps = unit_snapshots(callback.units)
    trainer = trainer_class(cls)(model=model, args=training_args(tmp_path, max_steps=9),
                                 train_dataset=tiny_dataset(tokenizer), data_collator=DataCollatorWithPadding(tokenizer),
                                 callbacks=[snaps])
    callback.add_to(trainer)
    trainer.train()
    held = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert all(id(p) in held for params in callback.units.values() for _, p in params)
    unfrozen_at = {e["units"][0]: e["step"] for e in callback.schedule.events}
    assert unfrozen_at == {3: 0, 2: 2, 1: 4, 0: 6}
    for unit, step in unfrozen_at.items():
        for done in range(step + 1):
            assert snaps.same(unit, done, 0), (unit, done)
        assert not snaps.same(unit, step + 1, step), unit
    assert json.loads((tmp_path / "schedule.json").read_text()) == callback.schedule.events


def test_an_optimizer_without_the_frozen_units_is_refused(tmp_path):
    model, tokenizer = tiny_classifier()
    trainer = Trainer(model=model, args=training_args(tmp_path, max_steps=9), train_dataset=tiny_dataset(tokenizer),
                      data_collator=DataCollatorWithPadding(tokenizer))
    for name, p in model.named_parameters():  # the trap: units frozen when the optimizer is built
        if "adapters.task" in name and ".layer.3." not in name:
            p.requires_grad_(False)
    trainer.create_optimizer()
    UnfreezeCallback(model, selector="topdown", k=2).add_to(trainer)
    with pytest.raises(UnfreezeError, match=r"does not hold units \[0, 1, 2\]"):
        trainer.train()


def test_units_from_a_mapping_a_backend_or_the_active_adapter_agree():
    model, _ = tiny_classifier()
    layers = model.roberta.encoder.layer
    mapping = {i: [layer.output.adapters["task"]] for i, layer in enumerate(layers)}
    by_mapping = UnfreezeCallback(model, selector="topdown", units=mapping).units
    by_backend = UnfreezeCallback(model, selector="topdown", backend="lora", adapter="task").units
    by_default = UnfreezeCallback(model, selector="topdown").units
    ids = lambda units: {u: sorted(id(p) for _, p in params) for u, params in units.items()}
    assert ids(by_mapping) == ids(by_backend) == ids(by_default) and len(by_default) == 4
    with pytest.raises(UnfreezeError, match="numbered 0..L-1"):
        UnfreezeCallback(model, selector="topdown", units={1: [layers[0].output.adapters["task"]]})


def test_fun_events_and_fisher_go_through_trainer_log_tensorboard_and_schedule_json(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from unfreeze_core import hookimpl
    from unfreeze_core.plugins import get_plugins

    class Listener:  # an installed plugin hears the callback's events, as it would hear `unfreeze run`'s
        heard = []

        @hookimpl
        def on_unfreeze(self, step, units, record):
            self.heard.append(("unfreeze", step, list(units), record.units))

        @hookimpl
        def on_fisher(self, record):
            self.heard.append(("fisher", record.step))

    model, tokenizer = tiny_classifier()
    callback = UnfreezeCallback(model, selector="fisher", k=2,
                                fisher_every=4, fisher_batches=2)
    args = training_args(tmp_path, max_steps=8, report_to=["tensorboard"], logging_dir=str(tmp_path / "tb"))
    trainer = Trainer(model=model, args=args, train_dataset=tiny_dataset(tokenizer),
                      data_collator=DataCollatorWithPadding(tokenizer))
    callback.add_to(trainer)
    get_plugins().register(Listener(), "listener")
    try:
        trainer.train()
    finally:
        get_plugins().unregister("listener")
    events = json.loads((tmp_path / "schedule.json").read_text())
    assert [h for h in Listener.heard if h[0] == "unfreeze"] == [("unfreeze", e["step"], e["units"], e["units"])
                                                                  for e in events]
    assert [h for h in Listener.heard if h[0] == "fisher"] == [("fisher", 0), ("fisher", 4)]
    assert [e["step"] for e in events] == [0, 2, 4, 6] and all("scores" in e for e in events[:-1])
    history = trainer.state.log_history
    for event in events:
        [entry] = [h for h in history if f"unfreeze/unit_{event['units'][0]}" in h]
        assert entry["step"] == event["step"]
        for u, score in (event.get("scores") or {}).items():
            assert entry[f"unfreeze/score_{u}"] == score
    tracked = [h for h in history if "fisher/unit_0" in h]
    assert [h["step"] for h in tracked] == [0, 4]
    tracked_file = [json.loads(line) for line in (tmp_path / "fisher.jsonl").read_text().splitlines()]
    assert [r["step"] for r in tracked_file] == [0, 4]
    for h, r in zip(tracked, tracked_file):
        assert h["fisher/sum_trainable"] == pytest.approx(sum(r["fisher"][str(u)] for u in r["trainable_units"]))
    [event_file] = list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    acc = EventAccumulator(str(event_file))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/fisher/unit_0", "train/fisher/per_trainable", "train/unfreeze/score_0",
            "train/unfreeze/trainable_units"} <= tags
    assert [s.step for s in acc.Scalars("train/fisher/unit_0")] == [0, 4]
    assert acc.Scalars("train/fisher/unit_0")[0].value == pytest.approx(tracked_file[0]["fisher"]["0"])


def test_two_processes_unfreeze_alike_and_end_with_identical_weights(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(Path(__file__).with_name("hf_ddp_worker.py")), str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["world"] == 2
    assert len(rank0["events"]) == 4 and rank0["events"] == rank1["events"]
    assert all("scores" in e for e in rank0["events"][:-1])  # FUN decided on the main rank, broadcast
    assert rank0["weights"] == rank1["weights"]
    assert rank0["moved_while_frozen"] == rank1["moved_while_frozen"] == []  # weight decay on: frozen = no grad
    assert rank0["logged"] == rank1["logged"] and any("fisher/unit_0" in keys for keys in rank0["logged"])


def test_the_documented_example_runs_as_written(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "examples" / "trainer_callback.py"), str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    events = json.loads((out / "schedule.json").read_text())
    assert [e["step"] for e in events] == list(range(0, 80, 10))
    assert sorted(u for e in events for u in e["units"]) == list(range(8))
    assert all("scores" in e for e in events[:-1])
    assert "step  70: unfroze unit" in done.stdout
    acc = EventAccumulator(str(next((out / "tensorboard").rglob("events.out.tfevents.*"))))
    acc.Reload()
    assert {"train/fisher/unit_7", "train/unfreeze/score_7", "train/loss"} <= set(acc.Tags()["scalars"])


class Died(Exception):
    pass


class DieAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Died


def test_resume_from_checkpoint_restores_the_schedule(tmp_path):
    def run(out, resume=None, die_at=None):
        model, tokenizer = tiny_classifier()
        callback = UnfreezeCallback(model, selector="random", k=2)
        args = training_args(out, max_steps=10, save_strategy="steps", save_steps=4)
        trainer = Trainer(model=model, args=args, train_dataset=tiny_dataset(tokenizer),
                          data_collator=DataCollatorWithPadding(tokenizer), callbacks=[DieAt(die_at)])
        callback.add_to(trainer)
        trainer.train(resume_from_checkpoint=resume)
        return callback.schedule.events, unit_weights(callback.units)

    whole, weights = run(tmp_path / "whole")
    with pytest.raises(Died):
        run(tmp_path / "broken", die_at=6)  # after the checkpoint at step 4
    resumed, weights_resumed = run(tmp_path / "broken", resume=str(tmp_path / "broken" / "checkpoint-4"))
    assert resumed == whole and len(whole) == 4
    assert all(torch.allclose(weights[u], weights_resumed[u]) for u in weights)
    assert json.loads((tmp_path / "broken" / "schedule.json").read_text()) == whole


def _run_random(out, *, seed, resume=None, die_at=None, save_steps=4):
    model, tokenizer = tiny_classifier()
    callback = UnfreezeCallback(model, selector="random", k=2, seed=seed)
    args = training_args(out, max_steps=10, save_strategy="steps", save_steps=save_steps)
    trainer = Trainer(model=model, args=args, train_dataset=tiny_dataset(tokenizer),
                      data_collator=DataCollatorWithPadding(tokenizer), callbacks=[DieAt(die_at)])
    callback.add_to(trainer)
    trainer.train(resume_from_checkpoint=resume)
    return callback.schedule.events


def test_resume_reads_the_checkpoint_it_is_given_not_a_stale_one_in_output_dir(tmp_path):
    import shutil

    whole = _run_random(tmp_path / "whole", seed=1)
    with pytest.raises(Died):
        _run_random(tmp_path / "a", seed=1, die_at=6)
    moved = tmp_path / "elsewhere" / "ckpt"
    moved.parent.mkdir()
    shutil.move(str(tmp_path / "a" / "checkpoint-4"), str(moved))
    with pytest.raises(Died):  # another run's checkpoint-4, with another schedule, left in the output folder
        _run_random(tmp_path / "stale", seed=7, die_at=6)
    stale = json.loads((tmp_path / "stale" / "schedule.json").read_text())
    assert [e["units"] for e in stale] != [e["units"] for e in whole[:len(stale)]]
    resumed = _run_random(tmp_path / "stale", seed=1, resume=str(moved))
    assert resumed == whole


def test_a_checkpoint_without_the_callbacks_state_is_one_line(tmp_path):
    model, tokenizer = tiny_classifier()
    args = training_args(tmp_path, max_steps=4, save_strategy="steps", save_steps=4)
    Trainer(model=model, args=args, train_dataset=tiny_dataset(tokenizer),
            data_collator=DataCollatorWithPadding(tokenizer)).train()
    with pytest.raises(UnfreezeError, match=r"^resuming at step 4: the checkpoint holds no unfreezing schedule"):
        _run_random(tmp_path / "again", seed=1, resume=str(tmp_path / "checkpoint-4"))


def test_overlapping_units_are_refused_naming_the_unit():
    model, _ = tiny_classifier()
    layers = model.roberta.encoder.layer
    mapping = {0: [layers[0].output.adapters["task"]], 1: [layers[0].output.adapters["task"].adapter_up]}
    with pytest.raises(UnfreezeError, match=r"^UnfreezeCallback: units 0 and 1 both hold roberta\.encoder\.layer\.0\."
                                            r"output\.adapters\.task\.adapter_up\.weight"):
        UnfreezeCallback(model, selector="topdown", units=mapping)


def test_units_naming_peft_wrapped_layers_are_refused_their_base_weights_untouched():
    pytest.importorskip("peft")
    from peft import LoraConfig, get_peft_model
    from transformers import XLMRobertaForSequenceClassification

    from unfreeze_core.models import byte_tokenizer, tiny_config

    config = tiny_config("tiny", byte_tokenizer())
    model = get_peft_model(XLMRobertaForSequenceClassification(config),
                           LoraConfig(task_type="SEQ_CLS", r=4, target_modules=["query", "value"]))
    frozen = {n: p.requires_grad for n, p in model.named_parameters()}
    mapping = {i: [f"base_model.model.roberta.encoder.layer.{i}.attention.self.query"] for i in range(4)}
    with pytest.raises(UnfreezeError, match=r"^UnfreezeCallback: unit 0 holds base_model\.model\.roberta\.encoder\."
                                            r"layer\.0\.attention\.self\.query\.base_layer\.weight, a frozen weight"):
        UnfreezeCallback(model, selector="topdown", units=mapping)
    assert {n: p.requires_grad for n, p in model.named_parameters()} == frozen  # nothing made trainable
    with pytest.raises(UnfreezeError, match=r"^the model has PEFT adapters: give backend='peft-lora'"):
        UnfreezeCallback(model, selector="topdown")


def test_a_model_with_neither_adapters_nor_units_is_one_line():
    from transformers import XLMRobertaForSequenceClassification

    from unfreeze_core.models import byte_tokenizer, tiny_config

    model = XLMRobertaForSequenceClassification(tiny_config("tiny", byte_tokenizer()))
    with pytest.raises(UnfreezeError, match=r"^the model has neither adapters nor units"):
        UnfreezeCallback(model, selector="topdown")


def test_fsdp_and_deepspeed_are_refused_before_training(tmp_path):
    """Trainer sets is_fsdp_enabled / is_deepspeed_enabled from TrainingArguments(fsdp=..., deepspeed=...); neither
    can be built on a CPU without deepspeed installed, so the flags are set as the Trainer would set them."""
    model, tokenizer = tiny_classifier()
    callback = UnfreezeCallback(model, selector="topdown", k=2)
    for flag, line in [("is_fsdp_enabled", "FSDP"), ("is_deepspeed_enabled", "DeepSpeed")]:
        trainer = Trainer(model=model, args=training_args(tmp_path, max_steps=8),
                          train_dataset=tiny_dataset(tokenizer, 16), data_collator=DataCollatorWithPadding(tokenizer))
        setattr(trainer, flag, True)
        with pytest.raises(UnfreezeError, match=rf"^UnfreezeCallback does not support {line}"):
            callback.add_to(trainer)
        assert callback not in trainer.callback_handler.callbacks


def test_the_unfreeze_settings_reach_the_trackers_and_the_output_folder(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model, tokenizer = tiny_classifier()
    callback = UnfreezeCallback(model, selector="topdown", k=2)
    args = training_args(tmp_path / "out", max_steps=8, report_to=["tensorboard"], logging_dir=str(tmp_path / "tb"))
    trainer = Trainer(model=model, args=args, train_dataset=tiny_dataset(tokenizer),
                      data_collator=DataCollatorWithPadding(tokenizer))
    callback.add_to(trainer)
    trainer.train()
    settings = json.loads((tmp_path / "out" / "unfreeze.json").read_text())
    assert settings["selector"] == "topdown" and settings["k"] == 2 and settings["units"] == 4
    assert json.loads((tmp_path / "out" / "schedule.json").read_text()) == callback.schedule.events
    acc = EventAccumulator(str(next((tmp_path / "tb").rglob("events.out.tfevents.*"))))
    acc.Reload()
    [text] = acc.Tensors("model_config/text_summary")
    logged = text.tensor_proto.string_val[0].decode()
    assert '"unfreeze"' in logged and '"selector": "topdown"' in logged


def test_zero_shot_after_trainer_train_gives_the_per_language_table(tmp_path):
    from unfreeze_core.integrations.evaluate import zero_shot
    from unfreeze_core.tasks.classification import NLI

    model, tokenizer = tiny_classifier()
    callback = UnfreezeCallback(model, selector="topdown", k=2)
    trainer = Trainer(model=model, args=training_args(tmp_path, max_steps=8), train_dataset=tiny_dataset(tokenizer),
                      data_collator=DataCollatorWithPadding(tokenizer))
    callback.add_to(trainer)
    trainer.train()
    options = {"languages": ["en", "qa", "qc"], "eval_limit": 16}
    results = zero_shot(model, tokenizer, "nli", task_options=options, output_dir=tmp_path,
                        name={"selector": "topdown", "seed": 0}, quiet=True)
    assert list(results["scores"]) == ["en", "qa", "qc"]
    task = NLI(NLI.Options(**options))
    assert results["scores"]["qa"] == task.evaluate(model, tokenizer, "qa", batch_size=8, device="cpu")["accuracy"]
    assert results["avg_xling"] == pytest.approx((results["scores"]["qa"] + results["scores"]["qc"]) / 2)
    assert json.loads((tmp_path / "results.json").read_text()) == json.loads(json.dumps(results))
