"""UnfreezeFinetuning in a Lightning Trainer, checked from outside as a user would: units bit-identical until
their step, the optimizer's groups, resume from a Lightning checkpoint, units of a mapping or a backend, the
refusals (the documented example: test_lightning_example.py)."""

import json

import pytest
import torch
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy

from lightning_fixtures import Snapshots, tiny_module, trainer, world_loader
from unfreeze_core.errors import UnfreezeError
from unfreeze_lightning import UnfreezeFinetuning
from unfreeze_lightning.callback import _check_strategy


def test_a_unit_unfrozen_at_step_s_is_unchanged_through_s_and_moves_at_update_s_plus_1(tmp_path):
    module, tokenizer = tiny_module()
    unfreezing = UnfreezeFinetuning(selector="topdown", k=2, dirpath=str(tmp_path))
    snapshots = Snapshots(unfreezing)
    fit = trainer(tmp_path, 9, [unfreezing, snapshots])
    fit.fit(module, world_loader(tokenizer, n=72))
    [optimizer] = fit.optimizers
    held = [{id(p) for p in group["params"]} for group in optimizer.param_groups]
    assert all(id(p) in held[0] for params in unfreezing.units.values() for _, p in params)  # every unit, from the start
    events = unfreezing.schedule.events
    assert {e["units"][0]: e["step"] for e in events} == {3: 0, 2: 2, 1: 4, 0: 6}
    snaps = snapshots.snaps
    assert snaps.moved_while_frozen(events) == []  # weight decay on: a frozen unit has no grad, AdamW skips it
    assert snaps.moved_after(events) == [0, 1, 2, 3]
    for e in events:
        assert not snaps.same(e["units"][0], e["step"] + 1, e["step"])  # it moves at update s+1
    assert json.loads((tmp_path / "schedule.json").read_text()) == events


def test_fun_resumes_from_a_lightning_checkpoint_as_the_unbroken_run(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    def run(ckpt=None):
        module, tokenizer = tiny_module()
        unfreezing = UnfreezeFinetuning(selector="fisher", k=2, fisher_batches=2, fisher_every=3, seed=5,
                                        dirpath=str(tmp_path))
        saving = ModelCheckpoint(dirpath=tmp_path / ("resumed" if ckpt else "whole"), every_n_train_steps=4,
                                 save_top_k=-1)
        trainer(tmp_path, 12, [unfreezing, saving], enable_checkpointing=True).fit(
            module, world_loader(tokenizer), ckpt_path=ckpt)  # an epoch is 4 steps: a checkpoint at its end
        return unfreezing, {n: p.detach().clone() for n, p in module.named_parameters() if "adapters" in n}

    whole, weights = run()
    step4 = tmp_path / "whole" / "epoch=0-step=4.ckpt"
    resumed, weights_resumed = run(str(step4))
    assert [e["units"] for e in whole.schedule.events] == [[1], [3], [2], [0]]  # FUN's own order, not top-down
    assert resumed.schedule.events == whole.schedule.events  # scores too: the same tr(F), bit for bit
    assert resumed.tracked == whole.tracked and len(whole.tracked) == 4
    assert all(torch.equal(weights[n], weights_resumed[n]) for n in weights)
    saved = torch.load(step4, weights_only=True)["callbacks"]["UnfreezeFinetuning"]
    assert saved["schedule"]["trainable"] == [1, 3] and saved["settings"]["selector"] == "fisher"


def test_a_checkpoint_without_the_callback_and_a_short_budget_are_refused(tmp_path):
    module, tokenizer = tiny_module()
    plain = trainer(tmp_path, 4, [])
    plain.fit(module, world_loader(tokenizer))
    plain.save_checkpoint(tmp_path / "plain.ckpt")
    module, tokenizer = tiny_module()
    with pytest.raises(UnfreezeError, match="resuming at step 4: the checkpoint holds no unfreezing schedule"):
        trainer(tmp_path, 12, [UnfreezeFinetuning(selector="topdown", k=2)]).fit(
            module, world_loader(tokenizer), ckpt_path=str(tmp_path / "plain.ckpt"))
    module, tokenizer = tiny_module()
    with pytest.raises(UnfreezeError, match=r"the budget of 5 steps is too short for selector TopDown: .* needs at least 7 steps"):
        trainer(tmp_path, 5, [UnfreezeFinetuning(selector="topdown", k=2)]).fit(module, world_loader(tokenizer))


def test_sharding_strategies_and_ddp_without_unused_parameters_are_refused_in_one_line():
    with pytest.raises(UnfreezeError, match="does not support FSDPStrategy") as refused:
        _check_strategy(FSDPStrategy())
    assert "\n" not in str(refused.value)
    with pytest.raises(UnfreezeError, match="needs find_unused_parameters=True"):
        _check_strategy(DDPStrategy(find_unused_parameters=False))
    with pytest.raises(UnfreezeError, match="without static_graph"):
        _check_strategy(DDPStrategy(static_graph=True))
    ddp = DDPStrategy()  # strategy="ddp": the callback lets DDP find the frozen units' missing gradients
    _check_strategy(ddp)
    assert ddp._ddp_kwargs["find_unused_parameters"] is True


def test_units_given_by_the_user_and_a_bad_one(tmp_path):
    module, tokenizer = tiny_module()
    layers = module.model.roberta.encoder.layer
    mapping = {0: [layers[0].output.adapters, layers[1].output.adapters],
               1: ["roberta.encoder.layer.2.output.adapters", "roberta.encoder.layer.3.output.adapters"]}
    unfreezing = UnfreezeFinetuning(selector="bottomup", k=3, units=mapping)
    trainer(tmp_path, 6, [unfreezing]).fit(module, world_loader(tokenizer))
    assert [e["units"] for e in unfreezing.schedule.events] == [[0], [1]]
    with pytest.raises(UnfreezeError, match="units 0 and 1 both hold"):
        trainer(tmp_path, 6, [UnfreezeFinetuning(units={0: [layers[0].output.adapters], 1: [layers[0].output.adapters.task]})]).fit(
            module, world_loader(tokenizer))


def test_a_peft_model_with_a_registered_backend_and_estimator(tmp_path):
    pytest.importorskip("unfreeze_peft")  # plugins/unfreeze-peft registers backend peft-lora
    from peft import LoraConfig, get_peft_model

    from lightning_fixtures import Module
    from unfreeze_core.models import byte_tokenizer, tiny_config
    from transformers import XLMRobertaForSequenceClassification

    torch.manual_seed(0)
    tokenizer = byte_tokenizer()
    config = tiny_config("tiny", tokenizer)
    config.num_labels = 3
    model = get_peft_model(XLMRobertaForSequenceClassification(config),
                           LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, target_modules=["query", "value"]))
    base = {n: p.detach().clone() for n, p in model.named_parameters() if "base_layer" in n}
    unfreezing = UnfreezeFinetuning(backend="peft-lora", selector="fisher", estimator="batch", k=2, fisher_batches=1)
    trainer(tmp_path, 8, [unfreezing]).fit(Module(model, 1e-2, 0.1), world_loader(tokenizer))
    events = unfreezing.schedule.events
    assert sorted(u for e in events for u in e["units"]) == [0, 1, 2, 3] and "scores" in events[0]
    assert unfreezing.settings["estimator"] == "batch" and unfreezing.settings["backend"] == "peft-lora"
    assert all(torch.equal(p, base[n]) for n, p in model.named_parameters() if n in base)  # base weights untouched


def test_gradient_accumulation_selects_once_per_update(tmp_path):
    module, tokenizer = tiny_module()
    unfreezing = UnfreezeFinetuning(selector="random", k=2)
    snapshots = Snapshots(unfreezing)
    trainer(tmp_path, 8, [unfreezing, snapshots], accumulate_grad_batches=2).fit(
        module, world_loader(tokenizer, n=64, batch_size=4))
    events = unfreezing.schedule.events
    assert [e["step"] for e in events] == [0, 2, 4, 6] and all(len(e["units"]) == 1 for e in events)
    assert snapshots.snaps.moved_while_frozen(events) == []


def test_events_and_fisher_reach_the_loggers_at_their_step(tmp_path):
    import csv

    import yaml
    from lightning.pytorch.loggers import CSVLogger

    module, tokenizer = tiny_module()
    unfreezing = UnfreezeFinetuning(selector="fisher", k=2, fisher_batches=1, fisher_every=4)
    logger = CSVLogger(tmp_path, name="csv")
    trainer(tmp_path, 8, [unfreezing], logger=logger, log_every_n_steps=1).fit(module, world_loader(tokenizer))
    rows = list(csv.DictReader(open(f"{logger.log_dir}/metrics.csv")))
    unfrozen = {(int(r["step"]), k) for r in rows for k, v in r.items() if k.startswith("unfreeze/unit_") and v}
    assert unfrozen == {(e["step"], f"unfreeze/unit_{u}") for e in unfreezing.schedule.events for u in e["units"]}
    assert sorted({int(r["step"]) for r in rows if r.get("fisher/sum_trainable")}) == [0, 4]
    assert yaml.safe_load(open(f"{logger.log_dir}/hparams.yaml"))["unfreeze"]["selector"] == "fisher"
    assert json.loads(open(f"{logger.log_dir}/schedule.json").read()) == unfreezing.schedule.events  # trainer.log_dir
