"""A run that dies keeps its checkpoint; resuming it ends with exactly the weights of an unbroken run."""

import json

import pytest
import torch
from accelerate import Accelerator

from unfreeze_core import checkpoint
from unfreeze_core.components import build
from unfreeze_core.config import RunConfig
from unfreeze_core.plugins import get_plugins
from unfreeze_core.training import Trainer


class Died(Exception):
    pass


def make_config(nli_dir, tmp_path):
    config = RunConfig(model="tiny", selector="random", k=3, steps=16, batch_size=8, lr=1e-2, log_every=2,
                       checkpoint_every=4, output_dir=str(tmp_path))
    config.options["task"] = {"data_dir": str(nli_dir), "eval_limit": 8, "languages": ["en"]}
    config.options["adapter"] = {"lang_adapters": "fresh"}
    return config


def trainer(config, run_dir, progress=None):
    plugins = get_plugins()
    return Trainer(config, build(config, plugins), Accelerator(cpu=True), seed=5, run_dir=run_dir, hook=plugins.hook,
                   progress=progress)


def test_resume_after_a_crash_reaches_the_same_weights(nli_dir, tmp_path):
    config = make_config(nli_dir, tmp_path)
    trainer(config, tmp_path / "whole").run()

    def die_at_10(step, *rest):
        if step == 10:
            raise Died

    with pytest.raises(Died):
        trainer(config, tmp_path / "broken", die_at_10).run()
    assert checkpoint.load(tmp_path / "broken")["step"] == 8
    trainer(config, tmp_path / "broken").run(resume=True)

    whole, resumed = checkpoint.load(tmp_path / "whole"), checkpoint.load(tmp_path / "broken")
    assert resumed["step"] == whole["step"] == 16
    assert whole["weights"].keys() == resumed["weights"].keys()
    for name, value in whole["weights"].items():
        assert torch.equal(value, resumed["weights"][name]), name
    assert json.loads((tmp_path / "whole" / "schedule.json").read_text()) == \
        json.loads((tmp_path / "broken" / "schedule.json").read_text())
    steps = [json.loads(line)["step"] for line in (tmp_path / "broken" / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(2, 17, 2))  # lines logged after the checkpoint are not duplicated


def test_resume_without_checkpoint_is_a_clear_error(nli_dir, tmp_path):
    from unfreeze_core.errors import UnfreezeError

    with pytest.raises(UnfreezeError, match="no checkpoint"):
        trainer(make_config(nli_dir, tmp_path), tmp_path / "empty").run(resume=True)


def test_cli_resume_reads_the_run_directorys_own_config(nli_dir, tmp_path):
    from click.testing import CliRunner

    from unfreeze_cli.main import cli

    args = ["run", "--model", "tiny", "-o", "lang_adapters=fresh", "--data-dir", str(nli_dir), "--selector", "topdown",
            "--k", "2", "--steps", "10", "--checkpoint-every", "4", "--output-dir", str(tmp_path)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    run_dir = tmp_path / "nli-madx-topdown" / "seed1"
    first = json.loads((run_dir / "results.json").read_text())
    result = CliRunner().invoke(cli, ["run", "--resume", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir / "results.json").read_text())["selector"] == first["selector"] == "topdown"
    missing = CliRunner().invoke(cli, ["run", "--resume", str(tmp_path)])
    assert missing.exit_code == 1 and "no config.yaml" in missing.output
