"""The catalogue of bad input and faults (docs/errors.md): each case through the CLI ends with its exit code,
one line on stderr and no traceback, and nothing written or lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from unfreeze_cli.main import cli

TINY = ["--model", "tiny", "-o", "lang_adapters=fresh", "--steps", "4", "--k", "1", "--batch-size", "8",
        "--checkpoint-every", "2"]


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


def invoke(args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}\n{result.output}")
    return result


def assert_one_line(result, code: int, text: str):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert not lines[0].startswith("Error: unexpected"), lines[0]  # foreseen, not caught by the last resort
    assert text in lines[0], lines[0]


@pytest.fixture
def data(nli_dir, tmp_path) -> Path:
    """A private copy of the small NLI folder, to spoil."""
    root = tmp_path / "data"
    shutil.copytree(nli_dir, root)
    return root


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def rewrite(path: Path, row: int, **changes):
    rows = records(path)
    rows[row].update(changes)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


# -- values that are not numbers, seeds, plugin options, budget --------------------------------------------

VALUE_CASES = {
    "lr nan": (["--lr", "nan"], 1, "--lr must be a finite number"),
    "lr inf": (["--lr", "inf"], 1, "--lr must be a finite number"),
    "epochs nan": (["--epochs", "nan", "--steps", None], 1, "--epochs must be a finite number"),
    "epochs inf": (["--epochs", "inf", "--steps", None], 1, "--epochs must be a finite number"),
    "seed -1": (["--seed", "-1"], 1, "seed -1 is outside 0..2**32-1"),
    "seed 2**40": (["--seed", str(2**40)], 1, "is outside 0..2**32-1"),
    "seeds 1 1": (["--seeds", "1", "1"], 1, "seed 1 is given twice"),
    "eval_limit -1": (["-o", "eval_limit=-1"], 1, "eval_limit must be a positive number"),
    "surgical units=99": (["--selector", "surgical", "-o", "units=99"], 1,
                          "selector 'surgical' (plugin selectors): option 'units' names unit 99"),
    "budget below (L-1)*k+1": (["--selector", "topdown", "--k", "5"], 1,
                                "last unfreezing is at step 15 (k = 5, 4 units) and is trained from update 16 on"),
    "unknown selector": (["--selector", "bogus"], 2, "unknown selector 'bogus'"),
    # numbers at their limits: one line naming the value and the bound, before anything is made
    "batch-size 10**20": (["--batch-size", str(10**20)], 1, "--batch-size is 100000000000000000000 (about 1e+20), "
                                                            "above the largest value unfreeze can honour (2147483647"),
    "fisher-batches 10**20": (["--fisher-batches", str(10**20)], 1, "--fisher-batches is 100000000000000000000"),
    "threads 10**20": (["--threads", str(10**20)], 1, "--threads is 100000000000000000000"),
    "k 2**31": (["--k", str(2**31)], 1, "--k is 2147483648"),
    "epochs 1e300": (["--epochs", "1e300", "--steps", None], 1, "--epochs is 1e+300, above the largest value"),
    "eval_limit 10**15": (["-o", f"eval_limit={10**15}"], 1, "task option eval_limit is 1000000000000000"),
    "max_length 2**70": (["-o", f"max_length={2**70}"], 1, "option 'max_length' is 1180591620717411303424 (about 1.18e+21), above"),
    "option .inf": (["--selector", "fisher", "-o", "stop_z=.inf"], 1, "option 'stop_z' must be a finite number"),
}


def tiny_args(extra):
    """TINY with ``extra``; ``--steps None`` in extra drops TINY's --steps (for --epochs)."""
    args, extra = list(TINY), list(extra)
    if "--steps" in extra:  # --steps None: drop the default --steps of TINY
        i = extra.index("--steps")
        if extra[i + 1] is None:
            del extra[i:i + 2]
            j = args.index("--steps")
            del args[j:j + 2]
    return args + extra


@pytest.mark.parametrize("case", VALUE_CASES)
def test_bad_values_are_refused_before_anything_is_made(case, data, tmp_path):
    extra, code, text = VALUE_CASES[case]
    out = tmp_path / "runs"
    result = invoke(["run", *tiny_args(extra), "--data-dir", data, "--output-dir", out])
    assert_one_line(result, code, text)
    assert not out.exists()


# -- bad data in any split: found before the model is built --------------------------------------------------

def missing_column(root):
    rows = records(root / "de" / "test.jsonl")
    for r in rows:
        del r["hypothesis"]
    (root / "de" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def truncated_parquet(root):
    import datasets

    path = root / "de" / "test.parquet"
    datasets.Dataset.from_list(records(root / "de" / "test.jsonl")).to_parquet(str(path))
    (root / "de" / "test.jsonl").unlink()
    path.write_bytes(path.read_bytes()[:200])


def non_utf8(root):
    path = root / "el" / "test.jsonl"
    path.write_bytes(path.read_bytes().replace("γάτα".encode(), "γάτα".encode("iso-8859-7")))


def bad_json_line(root):
    with open(root / "de" / "test.jsonl", "a") as f:
        f.write('{"premise": "x", "hypothesis": \n')


DATA_CASES = {
    "missing column": (missing_column, "missing column 'hypothesis'"),
    "truncated parquet": (truncated_parquet, "test.parquet"),
    "non-UTF-8 text": (non_utf8, "el/test"),
    "bad JSON line": (bad_json_line, "de/test"),
    "label -1": (lambda root: rewrite(root / "de" / "test.jsonl", 3, label=-1), "de/test: row 3 has label = -1"),
    "label as text": (lambda root: rewrite(root / "en" / "train.jsonl", 0, label="entailment"), "en/train: row 0"),
    "null premise": (lambda root: rewrite(root / "de" / "test.jsonl", 5, premise=None), "row 5 has premise = None"),
    "bad validation label": (lambda root: rewrite(root / "en" / "validation.jsonl", 1, label=7),
                             "en/validation: row 1 has label = 7"),
}


@pytest.mark.parametrize("case", DATA_CASES)
def test_bad_data_in_any_split_is_found_before_training(case, data, tmp_path):
    spoil, text = DATA_CASES[case]
    spoil(data)
    out = tmp_path / "runs"
    result = invoke(["run", *TINY, "--eval-every", "2", "--data-dir", data, "--output-dir", out])
    assert_one_line(result, 1, text)
    assert not out.exists()


OTHER_TASKS = {
    "copa: question neither cause nor effect": ("copa", "qk/test.jsonl", {"question": "why"},
                                                "qk/test: row 2: question 'why' is not one of cause, effect"),
    "copa: label 2 of two choices": ("copa", "qd/test.jsonl", {"label": 2}, "qd/test: row 2 has label = 2"),
    "qa: answers without offsets": ("qa", "en/train.jsonl", {"answers": {"text": ["x"]}}, "en/train: row 2 has answers"),
    "qa: null context": ("qa", "qk/test.jsonl", {"context": None}, "qk/test: row 2 has context = None"),
}


@pytest.mark.parametrize("case", OTHER_TASKS)
def test_bad_data_of_the_other_task_kinds(case, tmp_path):
    from unfreeze_core import world

    task, file, change, text = OTHER_TASKS[case]
    root = tmp_path / task
    for lang in world.LANGUAGES:  # the world's files, train and test cut short
        for split in ("train", "validation", "test"):
            source = world.data_dir(task) / lang / f"{split}.jsonl"
            if source.is_file():
                (root / lang).mkdir(parents=True, exist_ok=True)
                (root / lang / source.name).write_text("".join(source.read_text(encoding="utf-8").splitlines(True)[:20]),
                                                       encoding="utf-8")
    rewrite(root / file, 2, **change)
    out = tmp_path / "runs"
    result = invoke(["run", "--task", task, *TINY, "--data-dir", root, "--output-dir", out])
    assert_one_line(result, 1, text)
    assert not out.exists()


# -- configuration files, output folders, models -----------------------------------------------------------

def test_yaml_files_that_are_not_settings(data, tmp_path):
    out = tmp_path / "runs"
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("selector: topdöwn\n".encode("latin-1"))
    listed = tmp_path / "options.yaml"
    listed.write_text("options: [1, 2]\n")
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(f"lr: !!python/object/apply:os.system ['touch {tmp_path / 'pwned'}']\n")
    bad_tag = tmp_path / "bad_tag.yaml"
    bad_tag.write_text("lr: !!float abc\n")  # yaml raises ValueError here, not YAMLError
    for config, text in ((latin, "is not UTF-8"), (tmp_path, "is a folder"), (listed, "options in"),
                         (hostile, "is not valid YAML"), (bad_tag, "is not valid YAML")):
        result = invoke(["run", "--config", config, "--data-dir", data, "--output-dir", out])
        assert_one_line(result, 1, text)
    assert not out.exists() and not (tmp_path / "pwned").exists()


def test_an_output_dir_that_is_a_file_or_read_only(data, tmp_path):
    import os

    afile = tmp_path / "afile"
    afile.write_text("keep me")
    result = invoke(["run", *TINY, "--data-dir", data, "--output-dir", afile / "runs"])
    assert_one_line(result, 1, "is not a folder")
    assert afile.read_text() == "keep me"
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert_one_line(invoke(["run", *TINY, "--data-dir", data, "--output-dir", locked]), 1, "cannot write")


def tiny_folder(root: Path, weights: bool = True, tokenizer: bool = True) -> Path:
    from transformers import XLMRobertaModel

    from unfreeze_core.models import byte_tokenizer, tiny_config

    tok = byte_tokenizer()
    model = XLMRobertaModel(tiny_config("tiny", tok))
    if weights:
        model.save_pretrained(root)
    else:
        model.config.save_pretrained(root)
    if tokenizer:
        tok.save_pretrained(root)
    return root


def unknown_model_type(root):
    tiny_folder(root, weights=False)
    config = json.loads((root / "config.json").read_text())
    (root / "config.json").write_text(json.dumps({**config, "model_type": "nonsense"}))


def truncated_weights(root):
    tiny_folder(root)
    path = root / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])


def hostile_bin(root):
    import torch

    tiny_folder(root, weights=False)
    torch.save({"x": Hostile(root.parent / "pwned")}, root / "pytorch_model.bin")


MODEL_CASES = {
    "hostile pytorch_model.bin": (hostile_bin, "cannot load model"),
    "no such folder": (None, "cannot load model"),
    "bad hub id": ("bad//id", "cannot load model 'bad//id'"),
    "unknown model_type": (unknown_model_type, "nonsense"),
    "truncated safetensors": (truncated_weights, "cannot load model"),
    "no tokenizer": (lambda root: tiny_folder(root, tokenizer=False), "tokenizer"),
}


@pytest.mark.parametrize("case", MODEL_CASES)
def test_models_that_cannot_be_loaded(case, data, tmp_path):
    make, text = MODEL_CASES[case]
    folder = tmp_path / "model"
    if isinstance(make, str):
        folder = make
    elif make is not None:
        folder.mkdir()
        make(folder)
    out = tmp_path / "runs"
    result = invoke(["run", "--model", folder, "-o", "lang_adapters=fresh", "--steps", "4", "--k", "1",
                     "--data-dir", data, "--output-dir", out])
    assert_one_line(result, 1, text)
    assert not out.exists()  # a run refused while loading leaves no half-made run folder
    assert not (tmp_path / "pwned").exists()


# -- resume: checkpoints and configurations ----------------------------------------------------------------

@pytest.fixture
def stopped_run(data, tmp_path) -> Path:
    """A seed folder as a killed run leaves it: config.yaml, plugins.json, log and a checkpoint, no results."""
    out = tmp_path / "runs"
    assert invoke(["run", *TINY, "--data-dir", data, "--output-dir", out]).exit_code == 0
    (run_dir,) = out.glob("*/seed1")  # whatever the group folder is named
    (run_dir / "results.json").unlink()
    return run_dir


class Hostile:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def hostile_pt(run_dir: Path):
    import torch

    (run_dir / "checkpoint.safetensors").unlink()
    torch.save({"step": 2, "weights": {}, "x": Hostile(run_dir.parent / "pwned")}, run_dir / "checkpoint.pt")


RESUME_CASES = {
    "empty checkpoint": (lambda d: (d / "checkpoint.safetensors").write_bytes(b""), "is empty"),
    "corrupt checkpoint": (lambda d: (d / "checkpoint.safetensors").write_bytes(b"\x10" + b"x" * 40), "corrupt"),
    "truncated checkpoint": (lambda d: (d / "checkpoint.safetensors").write_bytes(
        (d / "checkpoint.safetensors").read_bytes()[:300]), "corrupt"),
    "hostile checkpoint.pt": (hostile_pt, "refusing checkpoint"),
    "no checkpoint": (lambda d: (d / "checkpoint.safetensors").unlink(), "no checkpoint to resume"),
    "edited config": (lambda d: (d / "config.yaml").write_text((d / "config.yaml").read_text().replace(
        "lr: 0.001", "lr: 0.002")), "lr was 0.001, now 0.002"),
    "config not a mapping": (lambda d: (d / "config.yaml").write_text("- 1\n"), "must hold a mapping"),
}


@pytest.mark.parametrize("case", RESUME_CASES)
def test_resume_refuses_what_it_cannot_continue_faithfully(case, stopped_run):
    spoil, text = RESUME_CASES[case]
    spoil(stopped_run)
    before = snapshot(stopped_run)
    assert_one_line(invoke(["run", "--resume", stopped_run]), 1, text)
    assert snapshot(stopped_run) == before
    assert not (stopped_run.parent / "pwned").exists()


def test_resume_takes_no_other_flags_but_threads(stopped_run):
    before = snapshot(stopped_run)
    for extra, flag in ((["--steps", "80", "--selector", "bogus"], "--steps"), (["-o", "units=1"], "-o"),
                        (["--seed", "3"], "--seed")):
        assert_one_line(invoke(["run", "--resume", stopped_run, *extra]), 1, f"{flag} cannot be given with --resume")
    assert snapshot(stopped_run) == before
    with open(stopped_run / "log.jsonl", "a") as log:
        log.write('{"step": 3, "lo')  # a line torn by a kill is dropped, not fatal
    assert invoke(["run", "--resume", stopped_run, "--threads", "1"]).exit_code == 0
    assert (stopped_run / "results.json").is_file()


# -- the other commands --------------------------------------------------------------------------------------

def test_lang_adapter_text_that_is_not_utf8(tmp_path):
    text = tmp_path / "de.txt"
    text.write_bytes("Grüße aus Köln\n".encode("latin-1"))
    result = invoke(["lang-adapter", "train", "--model", "tiny", "--lang", "de", "--text", text,
                     "--steps", "1", "--out", tmp_path / "out"])
    assert_one_line(result, 1, "is not UTF-8 text")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra, text", [
    (["--lr", "nan"], "--lr must be a finite number, got nan"),
    (["--lr", "-1"], "--lr must be positive"),
    (["--lang", "../x"], "--lang '../x' must be a language code"),
    (["--lang", "a/b"], "--lang 'a/b' must be a language code"),
    (["--steps", str(10**20)], "--steps is 100000000000000000000"),
    (["--batch-size", str(2**31)], "--batch-size is 2147483648"),
    (["--seed", str(2**40)], "is outside 0..2**32-1"),
])
def test_lang_adapter_refuses_what_run_refuses(tmp_path, extra, text):
    """Seen as "unexpected ValueError" (--lr nan) and a folder outside --out (--lang ../x) before the checks."""
    source = tmp_path / "de.txt"
    source.write_text("Grüße aus Köln\n", encoding="utf-8")
    args = {"--lang": "de", "--steps": "1"}
    args.update(dict(zip(extra[::2], extra[1::2])))
    result = invoke(["lang-adapter", "train", "--model", "tiny", "--text", source, "--out", tmp_path / "out",
                     *[x for pair in args.items() for x in pair]])
    assert_one_line(result, 1, text)
    assert not (tmp_path / "out").exists() and not (tmp_path / "x").exists()


def test_world_info_with_a_corrupt_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text('{"seed": 0, "encoder": ')
    assert_one_line(invoke(["world", "info", "--dir", tmp_path]), 1, "rebuild it with `unfreeze world build`")


def good_result(selector, seed):
    return {"task": "nli", "model": "world", "adapter": "madx", "selector": selector, "seed": seed,
            "metric": "accuracy", "scores": {"en": 0.7, "de": 0.6}, "avg_xling": 0.6, "lowest": {"lang": "de", "score": 0.6}}


@pytest.mark.parametrize("bad", ['{"task": "nli", "scores": ', '{"task": "nli"}', '[1, 2]', "\xff"])
def test_report_skips_and_names_a_bad_results_file(tmp_path, bad):
    good = tmp_path / "nli-madx-topdown" / "seed1"
    good.mkdir(parents=True)
    (good / "results.json").write_text(json.dumps(good_result("topdown", 1)))
    broken = tmp_path / "nli-madx-topdown" / "seed2"
    broken.mkdir()
    (broken / "results.json").write_bytes(bad.encode("latin-1"))
    refused = tmp_path / "nli-madx-lpft" / "seed1"  # what a refused run of an earlier version left behind
    refused.mkdir(parents=True)
    (refused / "config.yaml").write_text("task: nli\n")
    result = invoke(["report", tmp_path, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["seeds"] == [1]
    assert f"skipped {broken / 'results.json'}" in result.stderr


def test_plot_skips_and_names_a_bad_run_folder(tmp_path):
    good = tmp_path / "nli-madx-topdown" / "seed1"
    good.mkdir(parents=True)
    (good / "log.jsonl").write_text(json.dumps({"step": 2, "loss": 1.0}) + "\n" + json.dumps({"step": 4, "loss": 0.5}))
    (good / "results.json").write_text(json.dumps(good_result("topdown", 1)))
    bad = tmp_path / "nli-madx-lpft" / "seed1"
    bad.mkdir(parents=True)
    (bad / "config.yaml").write_text("task: nli\n")  # a refused run: no log.jsonl
    torn = tmp_path / "nli-madx-random" / "seed1"
    torn.mkdir(parents=True)
    (torn / "log.jsonl").write_text('{"step": 2, "loss": 1.0}\n{"step": 4, "lo')
    result = invoke(["plot", tmp_path, "--out", tmp_path / "plots"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plots" / "loss.png").is_file()
    assert f"skipped run folder {bad}" in result.stderr and f"skipped run folder {torn}" in result.stderr


# -- runs started at the same instant never share a folder or a temporary file ------------------------------

def _start_together(barrier, out, rounds, queue):
    import torch

    from unfreeze_core import checkpoint
    from unfreeze_core.results import new_group_dir

    made = []
    for _ in range(rounds):
        barrier.wait()
        group = new_group_dir(out, "nli-madx-topdown")
        (group / "owner").write_text(str(len(made)))
        made.append(str(group))
        barrier.wait()
        checkpoint.save(out, step=len(made), weights={"w": torch.zeros(3)}, optimizer={}, scheduler={}, schedule={},
                        window=[])
    queue.put(made)


def test_two_processes_released_together_get_their_own_folders(tmp_path):
    import multiprocessing

    from unfreeze_core import checkpoint

    ctx = multiprocessing.get_context("fork")
    barrier, queue, rounds = ctx.Barrier(2), ctx.Queue(), 10
    workers = [ctx.Process(target=_start_together, args=(barrier, tmp_path, rounds, queue)) for _ in range(2)]
    for w in workers:
        w.start()
    made = [queue.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert len(set(made[0]) | set(made[1])) == 2 * rounds  # no folder handed to both
    for folder in made[0] + made[1]:
        assert [p.name for p in Path(folder).iterdir()] == ["owner"]
    assert checkpoint.load(tmp_path)["step"] == rounds
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_sigint_outside_the_loop_exits_130_and_keeps_the_checkpoint(tmp_path):
    import os
    import signal
    import time

    import torch

    from unfreeze_core import checkpoint, runner, signals

    checkpoint.save(tmp_path, step=6, weights={"w": torch.zeros(1)}, optimizer={}, scheduler={}, schedule={}, window=[])
    with signals.handled(), pytest.raises(signals.Stop) as info:  # no loop: building or evaluating stops at once
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    error = runner.interrupted(info.value.signum, tmp_path)
    assert error.exit_code == 130
    assert str(error) == f"interrupted by SIGINT; the checkpoint of step 6 is kept: resume with " \
                         f"`unfreeze run --resume {tmp_path}`"


@pytest.mark.parametrize("signame, code", [("SIGTERM", 143)])
def test_a_signal_checkpoints_and_says_how_to_resume(signame, code, nli_dir, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "runs"
    args = [*TINY, "--steps", "3000", "--data-dir", nli_dir, "--output-dir", out, "--selector", "topdown",
            "--k", "1", "--checkpoint-every", "1000"]
    proc = subprocess.Popen([sys.executable, "-m", "unfreeze_cli", "run", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    log = out / "nli-madx-topdown" / "seed1" / "log.jsonl"
    deadline = time.time() + 120
    while not (log.is_file() and log.stat().st_size) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(getattr(signal, signame))
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert f"interrupted by {signame}; the checkpoint of step" in lines[0]
    assert f"unfreeze run --resume {log.parent}" in lines[0]
    from unfreeze_core import checkpoint

    step = checkpoint.load(log.parent)["step"]
    assert 0 < step < 3000 and step % 1000  # saved where the signal stopped it, not at a periodic checkpoint


# -- a third party's plugin that refuses: one line naming it ---------------------------------------------------

@pytest.mark.parametrize("where", ["check", "setup"])
def test_a_plugins_value_error_is_one_line_naming_it(where, data, tmp_path):
    from unfreeze_core.api import AdapterBackend, Selector
    from unfreeze_core.hookspecs import hookimpl
    from unfreeze_core.plugins import get_plugins
    from unfreeze_core.units import TaskAdapterBackend

    class Picky(Selector):
        def check(self, num_units):
            raise ValueError(f"needs 12 units, the model has {num_units}")

        def select(self, ctx):
            return ctx.frozen[:1]

    class Refusing(TaskAdapterBackend, AdapterBackend):
        def setup(self, model, **kwargs):
            raise ValueError("this backend supports DeBERTa-v2 models only")

    class ThirdParty:
        @hookimpl
        def register_selectors(self, register):
            register("picky", Picky)

        @hookimpl
        def register_adapter_backends(self, register):
            register("refusing", Refusing)

    plugins = get_plugins()
    plugins.register(ThirdParty(), name="third-party")
    try:
        args = ["--selector", "picky"] if where == "check" else ["--adapter", "refusing", "--selector", "topdown"]
        out = tmp_path / "runs"
        result = invoke(["run", "--model", "tiny", "--steps", "4", "--k", "1", "--data-dir", data, *args,
                         "--output-dir", out])
        expected = "selector 'picky' (plugin third-party): needs 12 units, the model has 4" if where == "check" else \
            "adapter 'refusing' (plugin third-party): this backend supports DeBERTa-v2 models only"
        assert_one_line(result, 1, expected)
        assert not out.exists()
    finally:
        plugins.unregister("third-party")


# -- the one-line helper ------------------------------------------------------------------------------------

def test_first_line_of_a_message():
    from unfreeze_core import first_line as exported
    from unfreeze_core.errors import first_line

    assert exported is first_line
    assert first_line(ValueError("\n  bad value  \nin row 3\n")) == "bad value"
    assert first_line(KeyError("step")) == "'step'"
    assert first_line(RuntimeError()) == "RuntimeError"  # empty: the type's name
    assert first_line(OSError("  \n")) == "OSError"
    assert first_line(RuntimeError(), "") == ""
    assert first_line(ValueError(), default="no detail") == "no detail"
    assert first_line("first\nsecond") == "first"
    assert first_line("") == "" and first_line("\n", "none") == "none"


# -- faults of the machine are not bugs of unfreeze -------------------------------------------------------------

def test_an_import_that_runs_out_of_memory_says_so(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "runs"
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_AS, (600 * 2 ** 20, 600 * 2 ** 20))\n"
            f"sys.argv = ['unfreeze', 'run', '--model', 'tiny', '--steps', '2', '--output-dir', {str(out)!r}]\n"
            "from unfreeze_cli.main import cli\n"
            "cli()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: out of memory (") and "not a bug" in lines[0], proc.stderr
    assert "please report" not in lines[0] and not out.exists()


def test_resume_with_seed_zero_is_refused_like_any_flag(stopped_run):
    before = snapshot(stopped_run)
    assert_one_line(invoke(["run", "--resume", stopped_run, "--seed", "0"]), 1, "--seed cannot be given with --resume")
    assert snapshot(stopped_run) == before


def test_an_unreadable_data_file_is_one_line(tmp_path, monkeypatch):
    """A file the process may not read (a permission, an I/O error) names the file and the reason; as root the
    permission cannot be taken away, so the read itself is made to fail."""
    from unfreeze_core.errors import UnfreezeError
    from unfreeze_core.tasks import data as task_data

    (tmp_path / "en").mkdir()
    path = tmp_path / "en" / "train.jsonl"
    path.write_text('{"premise": "a", "hypothesis": "b", "label": 0}\n')

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(task_data, "json_records", denied)
    with pytest.raises(UnfreezeError) as err:
        task_data.load_local(tmp_path, "en", "train", ("premise",))
    assert str(err.value) == f"en/train: cannot read {path}: Permission denied"


# -- a disk that refuses a write: one line naming the file and the machine's reason, never "a bug" ----------

@pytest.mark.parametrize("name", ["results.json", "schedule.json"])
def test_a_full_disk_when_the_results_are_written_is_one_line_and_resumes(stopped_run, name):
    """A real ENOSPC from the kernel: the run's temporary file for ``name`` is a link to /dev/full (every write
    there fails with "No space left on device"). It used to be "unexpected OSError ... (a bug)". The checkpoint
    and the adapter are kept; once the disk has room the same resume finishes."""
    import os

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    os.symlink("/dev/full", stopped_run / f".{name}.{os.getpid()}.tmp")
    checkpoint = (stopped_run / "checkpoint.safetensors").read_bytes()
    result = invoke(["run", "--resume", stopped_run])
    assert_one_line(result, 1, f"could not write {stopped_run / name}: No space left on device")
    assert (stopped_run / "checkpoint.safetensors").read_bytes() == checkpoint
    assert not (stopped_run / "results.json").exists() and not list(stopped_run.glob(".*.tmp"))
    assert invoke(["run", "--resume", stopped_run]).exit_code == 0
    assert (stopped_run / "results.json").is_file()


def _tmpfs(folder: Path, size: int) -> bool:
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


def test_a_full_disk_at_any_write_of_a_run_is_one_line(data, tmp_path):
    """A real full disk: a tmpfs smaller than what the run writes (needs root to mount; skipped otherwise). Cut
    at several sizes the run fails at different writes (config, log, checkpoint, adapter, results); each is
    `could not write X: No space left on device` (or the checkpoint's own line), never "a bug"."""
    import re
    import subprocess

    full = tmp_path / "whole"
    assert invoke(["run", *TINY, "--data-dir", data, "--output-dir", full]).exit_code == 0
    need = sum(p.stat().st_size for p in full.rglob("*") if p.is_file())
    seen = set()
    for fraction in (0.02, 0.5, 1.4):  # a checkpoint needs room for itself and its predecessor
        disk = tmp_path / f"disk{fraction}"
        if not _tmpfs(disk, max(4096, int(need * fraction))):
            pytest.skip("cannot mount a tmpfs here (not root)")
        try:
            result = invoke(["run", *TINY, "--data-dir", data, "--output-dir", disk / "runs"])
            if result.exit_code == 0:
                continue  # tmpfs counts in pages: it fitted after all
            lines = result.stderr.strip().splitlines()
            assert result.exit_code == 1 and len(lines) == 1, result.output
            assert "No space left on device" in lines[0] and "unexpected" not in lines[0], lines[0]
            assert lines[0].startswith(("Error: could not write ", "Error: cannot make the run folder",
                                        "Error: cannot lock")), lines[0]
            seen.add(re.sub(r"/tmp\S*/seed1/?|\d+", "", lines[0]))
        finally:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    assert len(seen) >= 2, seen  # at least two different writes refused
