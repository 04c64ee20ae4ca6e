"""The default job on the embedded world, shortened: every world language evaluated, a table printed,
and Algorithm 1's top-down schedule as the acceptance check runs it (--k 5 --steps 80)."""

import json

from click.testing import CliRunner

from unfreeze_cli.main import cli
from unfreeze_core import world


def test_short_default_run_on_the_world(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--selector", "topdown", "--adapter", "madx", "--k", "5", "--steps", "80",
                                      "-o", "eval_limit=60", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "avg (no en)" in result.output and "lowest" in result.output
    run_dir = tmp_path / "nli-madx-topdown" / "seed1"
    results = json.loads((run_dir / "results.json").read_text())
    assert list(results["scores"])[0] == "en" and set(results["scores"]) == set(world.LANGUAGES)
    assert results["avg_xling"] > 0.0
    layers = world.manifest()["config"]["layers"]
    schedule = json.loads((run_dir / "schedule.json").read_text())
    assert schedule == [{"step": 5 * i, "units": [layers - 1 - i]} for i in range(layers)]
    config = (run_dir / "config.yaml").read_text()
    assert "model: world" in config and "task: nli" in config
