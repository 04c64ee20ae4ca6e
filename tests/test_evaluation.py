"""Zero-shot evaluation: shards merge to exactly one process's scores, also over 2 real processes;
swapping the language adapter loads nothing."""

from __future__ import annotations


import pytest

torch = pytest.importorskip("torch")

from task_fixtures import write_task  # noqa: E402
from unfreeze_core import evaluation  # noqa: E402
from unfreeze_core.components import build  # noqa: E402
from unfreeze_core.config import RunConfig  # noqa: E402
from unfreeze_core.plugins import get_plugins  # noqa: E402
from unfreeze_core.training import prepare_model  # noqa: E402


def prepared_for(task, folder):
    config = RunConfig(task=task, model="tiny", adapter="madx")
    config.options["task"] = {"data_dir": str(folder), "eval_limit": 21}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    parts = build(config, get_plugins())
    torch.manual_seed(0)
    return parts, prepare_model(config, parts)


@pytest.mark.parametrize("task", ["xnli", "xcopa", "xquad"])
def test_shards_merge_to_the_single_process_scores(task, tmp_path):
    parts, prepared = prepared_for(task, write_task(task, tmp_path / task, test=21))
    lang = prepared.languages[1]
    kwargs = dict(batch_size=4, device="cpu")
    whole = parts.task.evaluate(prepared.model, prepared.tokenizer, lang, **kwargs)
    partials = [parts.task.evaluate_shard(prepared.model, prepared.tokenizer, lang, shard=(i, 3), **kwargs)
                for i in range(3)]
    assert parts.task.shardable
    assert parts.task.merge_shards(partials, lang) == whole  # exactly, not approximately


def test_two_processes_give_the_scores_of_one(ddp_suite):
    rank0, rank1 = ddp_suite.records("eval")  # tests/ddp_suite.py: xnli fixture data, 21 test items a language
    assert set(rank0["single"]) == {"en", "ar", "zh"}
    assert rank0["sharded"] == rank0["single"] and rank1["sharded"] is None
    # each rank evaluated its own shard of every language
    assert rank1["shards"] == [[1, 2]] * 3
    assert rank0["shards"][:3] == [[0, 2]] * 3


def test_language_swap_loads_nothing(tmp_path, monkeypatch):
    parts, prepared = prepared_for("xnli", write_task("xnli", tmp_path / "xnli", test=8))
    model = prepared.model

    def no_load(*args, **kwargs):
        raise AssertionError("evaluation loaded an adapter")

    monkeypatch.setattr(model, "load_adapter", no_load)
    active = {}
    evaluate = parts.task.evaluate
    monkeypatch.setattr(parts.task, "evaluate",
                        lambda m, tok, lang, **kw: active.setdefault(lang, str(m.active_adapters)) and evaluate(m, tok, lang, **kw))
    scores = evaluation.zero_shot(model, parts.backend, parts.task, prepared.tokenizer, prepared.languages,
                                  batch_size=4, device="cpu")
    assert set(scores) == {"en", "ar", "zh"}
    assert all(lang in active[lang] for lang in scores)  # each language's adapter was the active one
    assert "en" in str(model.active_adapters)  # the train language is active again


def test_evaluation_runs_in_the_run_precision(tmp_path):
    """The model accelerate prepared for a bf16 run evaluates under bf16 autocast (what Trainer.finish uses)."""
    from accelerate import Accelerator

    from accelerate.state import AcceleratorState

    parts, prepared = prepared_for("xnli", write_task("xnli", tmp_path / "xnli", test=8))
    AcceleratorState._reset_state(True)  # other tests made a process-wide state without mixed precision
    try:
        accelerator = Accelerator(cpu=True, mixed_precision="bf16")
        model = accelerator.unwrap_model(accelerator.prepare(prepared.model))
        dtypes = set()
        layer = model.roberta.encoder.layer[0].attention.self.query
        layer.register_forward_hook(lambda m, inp, out: dtypes.add(out.dtype))
        evaluation.zero_shot(model, parts.backend, parts.task, prepared.tokenizer, ["en"], batch_size=4,
                             device="cpu")
    finally:
        AcceleratorState._reset_state(True)
    assert dtypes == {torch.bfloat16}
