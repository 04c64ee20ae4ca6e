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


class Hostile:
    """Unpickling this writes a marker file: what a crafted checkpoint.pt would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_hostile_legacy_checkpoint_runs_nothing(tmp_path):
    from unfreeze_core.errors import UnfreezeError

    marker = tmp_path / "pwned"
    torch.save({"step": 4, "weights": {}, "extra": Hostile(marker)}, tmp_path / "checkpoint.pt")
    with pytest.raises(UnfreezeError, match="refusing checkpoint") as info:
        checkpoint.load(tmp_path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_a_plain_legacy_checkpoint_still_loads(tmp_path):
    torch.save({"step": 3, "weights": {"w": torch.ones(2)}, "window": [0.5], "rng": checkpoint.rng_state()},
               tmp_path / "checkpoint.pt")
    state = checkpoint.load(tmp_path)
    assert state["step"] == 3 and torch.equal(state["weights"]["w"], torch.ones(2))
    checkpoint.restore_rng(state["rng"])


def test_the_checkpoint_holds_no_pickle_and_round_trips(tmp_path):
    import random

    import numpy as np

    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    checkpoint.save(tmp_path, config={"k": 3}, step=1, weights=dict(model.state_dict()),
                    optimizer=optimizer.state_dict(), scheduler={"last_epoch": 1}, schedule={"events": []},
                    window=[0.25])
    expected = (random.random(), np.random.rand(), torch.rand(1))
    state = checkpoint.load(tmp_path)
    assert not (tmp_path / "checkpoint.pt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.safetensors"]  # no temporary file left
    assert b"\x80\x04" not in (tmp_path / "checkpoint.safetensors").read_bytes()[:8]
    assert state["config"] == {"k": 3} and state["fingerprint"] == checkpoint.fingerprint({"k": 3})
    fresh = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=0.1)
    fresh.load_state_dict(state["optimizer"])
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    checkpoint.restore_rng(state["rng"])
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":"])
def test_an_empty_or_corrupt_checkpoint_is_one_line(tmp_path, content):
    from unfreeze_core.errors import UnfreezeError

    (tmp_path / "checkpoint.safetensors").write_bytes(content)
    with pytest.raises(UnfreezeError, match="checkpoint") as info:
        checkpoint.load(tmp_path)
    assert "\n" not in str(info.value)
