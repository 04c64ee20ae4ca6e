"""Table 7's presets (full fine-tuning of mBERT and XLM-R): XTREME's fine-tuning settings, cited, dry-runnable."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from unfreeze_cli.main import cli
from unfreeze_core import grid as grids
from unfreeze_core.presets import paper_folder, preset_for

# task -> (lr, epochs, batch, weight decay, max length): google-research/xtreme scripts/train_{xnli,xcopa,qa}.sh
XTREME = {"xnli": (2e-5, 5, 32, 0.0, 128), "xcopa": (2e-5, 5, 32, 0.0, 128),
          "xquad": (3e-5, 3, 32, 1e-4, 384), "mlqa": (3e-5, 3, 32, 1e-4, 384)}
MODELS = {"mbert": "bert-base-multilingual-cased", "xlmr": "xlm-roberta-base"}


@pytest.mark.parametrize("task", sorted(XTREME))
@pytest.mark.parametrize("model", sorted(MODELS))
def test_table7_presets_hold_xtremes_settings_and_say_where_from(task, model, tmp_path):
    path = paper_folder() / "table7" / f"{task}-{model}.yaml"
    text = path.read_text()
    assert "THE PAPER GIVES NO HYPERPARAMETERS" in text and "github.com/google-research/xtreme" in text
    lr, epochs, batch, decay, length = XTREME[task]
    cells = grids.cells(grids.load_grid(path), tmp_path)
    assert len(cells) == 4
    table1 = grids.cells(grids.load_grid(paper_folder() / "table1" / f"{task}-{model}.yaml"), tmp_path)[0].settings
    for cell in cells:
        s = cell.settings
        assert (s["task"], s["model"], s["adapter"], s["selector"]) == (task, MODELS[model], "full", "standard")
        assert (s["lr"], s["epochs"], s["batch_size"], s["weight_decay"]) == (lr, epochs, batch, decay)
        assert (s["lr_schedule"], s["max_grad_norm"]) == ("linear", 1.0)
        assert s["options"]["task"]["max_length"] == length
        assert s["options"]["task"]["languages"] == table1["options"]["task"]["languages"]  # Figure 2's rows


def test_a_full_fine_tuning_run_without_a_budget_names_table7_and_it_dry_runs(tmp_path):
    assert preset_for("xnli", "xlm-roberta-base", "full") == "configs/paper/table7/xnli-xlmr.yaml"
    result = CliRunner().invoke(cli, ["sweep", str(paper_folder() / "table7" / "mlqa-mbert.yaml"), "--dry-run",
                                      "--json", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    cells = json.loads(result.output)
    assert len(cells) == 4 and {c["settings"]["adapter"] for c in cells} == {"full"}
    assert not list(tmp_path.iterdir())
