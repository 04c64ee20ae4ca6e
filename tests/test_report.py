"""unfreeze report: many results.json -> mean ± std over seeds per language, avg without En, lowest."""

import json

import pytest
from click.testing import CliRunner

from unfreeze_cli.main import cli


def write(root, selector, seed, scores):
    run = root / f"nli-madx-{selector}" / f"seed{seed}"
    run.mkdir(parents=True)
    xling = {k: v for k, v in scores.items() if k != "en"}
    low = min(xling, key=xling.get)
    run.joinpath("results.json").write_text(json.dumps({
        "task": "nli", "model": "world", "adapter": "madx", "selector": selector, "seed": seed, "metric": "accuracy",
        "scores": scores, "avg_xling": sum(xling.values()) / len(xling), "lowest": {"lang": low, "score": xling[low]}}))


@pytest.fixture
def runs(tmp_path):
    write(tmp_path, "standard", 1, {"en": 0.70, "de": 0.60, "el": 0.50})
    write(tmp_path, "standard", 2, {"en": 0.72, "de": 0.64, "el": 0.54})
    write(tmp_path, "topdown", 1, {"en": 0.69, "de": 0.66, "el": 0.62})
    return tmp_path


def test_json_rows_hold_mean_and_std_over_seeds(runs):
    result = CliRunner().invoke(cli, ["report", str(runs), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["selector"]: r for r in json.loads(result.output)}
    standard = rows["standard"]
    assert standard["seeds"] == [1, 2]
    assert standard["scores"]["en"] == pytest.approx([0.71, 0.0141421356], rel=1e-6)
    assert standard["avg_xling"][0] == pytest.approx((0.55 + 0.59) / 2)
    assert standard["lowest"][0] == pytest.approx(0.52)
    assert rows["topdown"]["scores"]["de"] == [0.66, 0.0]


def test_markdown_and_latex_tables_for_a_paper(runs):
    md = CliRunner().invoke(cli, ["report", str(runs), "--format", "markdown"]).output
    assert "| model | adapter | selector | seeds | en | de | el | avg (no en) | lowest |" in md
    assert "| world | madx | standard | 2 | 71.0 ± 1.4 | 62.0 ± 2.8 | 52.0 ± 2.8 | 57.0 ± 2.8 | 52.0 ± 2.8 |" in md
    latex = CliRunner().invoke(cli, ["report", str(runs), "--format", "latex"]).output
    assert "\\begin{tabular}{lllrrrrrr}" in latex and "71.0 $\\pm$ 1.4" in latex and "\\bottomrule" in latex


def test_no_results_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "no results.json" in result.output


# ---------------------------------------------------------------- keyed by every setting that differs

import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from unfreeze_core.results import cell_settings, fingerprint  # noqa: E402

SETTINGS = {"task": "nli", "model": "world", "adapter": "madx", "selector": "standard", "k": 50, "steps": 600,
            "lr": 0.001, "task.train_limit": 64}


def write_cell(root, name, seed, scores, selector="standard", metric="accuracy", **changes):
    """A results.json as today's runs write it: with the cell's settings and their fingerprint."""
    run = root / name / f"seed{seed}"
    run.mkdir(parents=True)
    settings = {**SETTINGS, "selector": selector, **changes}
    xling = {k: v for k, v in scores.items() if k != "en"}
    low = min(xling, key=xling.get)
    run.joinpath("results.json").write_text(json.dumps({
        "task": settings["task"], "model": "world", "adapter": "madx", "selector": selector, "seed": seed,
        "metric": metric, "train_language": "en", "scores": scores, "avg_xling": sum(xling.values()) / len(xling),
        "lowest": {"lang": low, "score": xling[low]}, "settings": settings, "fingerprint": fingerprint(settings)}))
    return run


def report(*args):
    return CliRunner().invoke(cli, ["report", *map(str, args)])


def test_runs_of_different_settings_are_never_averaged(tmp_path):
    write_cell(tmp_path, "a", 1, {"en": 0.70, "de": 0.60}, **{"task.train_limit": 64})
    write_cell(tmp_path, "b", 1, {"en": 0.80, "de": 0.50}, **{"task.train_limit": 320})
    rows = json.loads(report(tmp_path, "--format", "json").output)
    assert sorted((r["settings"]["task.train_limit"], r["seeds"]) for r in rows) == [(64, [1]), (320, [1])]
    md = report(tmp_path, "--format", "markdown").output
    assert "| model | adapter | selector | task.train\\_limit | seeds | en | de | avg (no en) | lowest |" in md
    assert "| world | madx | standard | 64 | 1 | 70.0 | 60.0 | 60.0 | 60.0 |" in md
    assert "| world | madx | standard | 320 | 1 | 80.0 | 50.0 | 50.0 | 50.0 |" in md
    csv_text = report(tmp_path, "--format", "csv").output
    assert "task,metric,model,adapter,selector,task.train_limit,seeds,en,de,avg (no en),lowest" in csv_text
    assert "task.train\\_limit" in report(tmp_path, "--format", "latex").output


def test_the_sweep_table_is_keyed_by_every_differing_setting(tmp_path):
    from unfreeze_report.tables import write_tables

    files = [write_cell(tmp_path, f"lr={lr}", 1, {"en": 0.7, "de": lr * 100}, lr=lr) / "results.json"
             for lr in (0.001, 0.002)]
    rows = write_tables(tmp_path, files)
    assert len(rows) == 2
    md = (tmp_path / "table.md").read_text()
    assert "| lr |" in md and "| 0.001 | 1 |" in md and "| 0.002 | 1 |" in md
    assert "lr" in (tmp_path / "table.csv").read_text().splitlines()[0].split(",")
    assert not list(tmp_path.glob(".table*"))  # no temporary file left


def test_the_same_run_in_two_folders_counts_once(tmp_path):
    for copy in ("a", "b"):  # a sweep copied: the same cells twice
        write_cell(tmp_path / copy, "g", 1, {"en": 0.70, "de": 0.60})
        write_cell(tmp_path / copy, "g", 2, {"en": 0.72, "de": 0.64})
    result = report(tmp_path, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 1 and rows[0]["seeds"] == [1, 2]
    assert rows[0]["scores"]["de"][1] == pytest.approx(math.sqrt(0.0008))  # std of two seeds, not four
    notes = [line for line in result.stderr.splitlines() if "the same run" in line]
    assert len(notes) == 2 and str(tmp_path / "a" / "g" / "seed1") in notes[0] and \
        str(tmp_path / "b" / "g" / "seed1") in notes[0]


def test_an_older_results_json_is_keyed_by_its_config_yaml(tmp_path):
    """No ``settings`` in results.json: the run folder's config.yaml says what the cell is."""
    for folder, lr in (("x", 0.001), ("y", 0.002)):
        write(tmp_path / folder, "standard", 1, {"en": 0.70, "de": 0.60, "el": 0.50})
        run = tmp_path / folder / "nli-madx-standard" / "seed1"
        run.joinpath("config.yaml").write_text(f"task: nli\nmodel: world\nadapter: madx\nselector: standard\n"
                                               f"lr: {lr}\nseeds: [1]\noutput_dir: {folder}\nbatch_split: [32, 1]\n"
                                               "options: {task: {max_length: 64}}\n")
    rows = json.loads(report(tmp_path, "--format", "json").output)
    assert sorted(r["settings"]["lr"] for r in rows) == [0.001, 0.002]
    assert all(r["settings"]["task.max_length"] == 64 and "output_dir" not in r["settings"] for r in rows)


def test_cell_settings_are_flat_and_leave_out_bookkeeping():
    from unfreeze_core.config import RunConfig

    config = RunConfig(seeds=[3], output_dir="elsewhere", threads=2)
    config.options["task"]["train_limit"] = 64
    settings = cell_settings(config.as_dict())
    assert settings["task.train_limit"] == 64 and settings["lr"] == 0.001 and settings["selector"] == "standard"
    assert not {"seeds", "output_dir", "threads", "log_every", "checkpoint_every", "options"} & set(settings)
    assert fingerprint(settings) == fingerprint(cell_settings(RunConfig(seeds=[4], **{
        "options": {"task": {"train_limit": 64}, "adapter": {}, "selector": {}, "fisher": {}}}).as_dict()))
    assert fingerprint(settings) != fingerprint({**settings, "task.train_limit": 65})


def test_a_run_records_its_cell_and_never_imports_matplotlib(nli_dir, tmp_path):
    """`unfreeze run` end to end in a fresh process: results.json holds the settings; matplotlib stays out."""
    args = ["run", "--model", "tiny", "-o", "lang_adapters=fresh", "--data-dir", str(nli_dir), "--selector",
            "topdown", "--k", "2", "--steps", "8", "--checkpoint-every", "0", "--output-dir", str(tmp_path)]
    code = ("import sys\nfrom unfreeze_cli.main import cli\n"
            f"try:\n    cli({args!r})\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "assert 'matplotlib' not in sys.modules, 'unfreeze run imported matplotlib'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "nli-madx-topdown" / "seed1" / "results.json").read_text())
    assert result["settings"]["selector"] == "topdown" and result["settings"]["k"] == 2
    assert result["settings"]["adapter.lang_adapters"] == "fresh" and "seeds" not in result["settings"]
    assert result["fingerprint"] == fingerprint(result["settings"]) and result["train_language"] == "en"


# ---------------------------------------------------------------- the paper's layout

def paper_runs(root):
    """Two tasks, one model; topdown beats standard by a steady margin on nli (significant), fisher by noise."""
    nli = {"standard": [(0.70, 0.60, 0.50), (0.72, 0.62, 0.51), (0.71, 0.64, 0.49)],
           "topdown": [(0.73, 0.66, 0.55), (0.75, 0.68, 0.56), (0.74, 0.70, 0.54)],
           "fisher": [(0.69, 0.64, 0.48), (0.73, 0.60, 0.53), (0.72, 0.63, 0.50)]}
    for selector, seeds in nli.items():
        for seed, (en, de, el) in enumerate(seeds, 1):
            write_cell(root, f"nli-{selector}", seed, {"en": en, "de": de, "el": el}, selector=selector)
    for selector, f1 in (("standard", 80.0), ("topdown", 82.0)):
        for seed in (1, 2):
            write_cell(root, f"qa-{selector}", seed, {"en": f1 + seed, "de": f1 - 10 + seed}, selector=selector,
                       metric="f1", task="qa", lr=0.0003 if selector == "standard" else 0.0005)


def test_paper_layout_markdown(tmp_path):
    paper_runs(tmp_path)
    result = report(tmp_path, "--layout", "paper", "--format", "markdown")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ("| model | adapter | selector | seeds | nli en | nli avg | nli lowest | qa en | qa avg | qa lowest |")
    rows = {line.split(" | ")[2]: line for line in lines[2:5]}
    assert list(rows) == ["standard", "fisher", "topdown"]  # standard first; lr per selector does not split rows
    # topdown: avg without en per seed 60.5, 62, 62 -> 61.5 ± 0.9; each seed 5.5 points above standard: significant
    assert "**61.5 ± 0.9**†" in rows["topdown"] and "**74.0 ± 1.0**†" in rows["topdown"]
    assert "†" not in rows["fisher"] and "**" not in rows["standard"].split("| qa")[0]
    assert "| 81.5 ± 0.7 (n=2) | 71.5 ± 0.7 (n=2) | 71.5 ± 0.7 (n=2) |" in rows["standard"]  # f1 is shown as is
    assert "| standard | 2–3 | 71.0 ± 1.0 |" in rows["standard"]  # n: the row's seeds, a cell's own where it differs
    assert "paired t-test over the seeds common to both, two-sided, p < 0.05" in result.stdout
    assert "sample std" in result.stdout


def test_paper_layout_csv_holds_numbers_and_p_values(tmp_path):
    import csv
    import io

    from unfreeze_report.stats import paired_t_test

    paper_runs(tmp_path)
    rows = list(csv.DictReader(io.StringIO(report(tmp_path, "--layout", "paper", "--format", "csv").stdout)))
    fisher = next(r for r in rows if r["selector"] == "fisher")
    assert float(fisher["nli en mean"]) == pytest.approx((0.69 + 0.73 + 0.72) / 3)
    assert fisher["nli en seeds"] == "3" and fisher["qa en mean"] == ""
    assert float(fisher["nli en p"]) == pytest.approx(paired_t_test([0.69, 0.73, 0.72], [0.70, 0.72, 0.71]), rel=1e-3)
    assert next(r for r in rows if r["selector"] == "standard")["nli en p"] == ""


def test_paper_layout_latex_is_booktabs_with_groups_bold_and_daggers(tmp_path):
    paper_runs(tmp_path)
    tex = report(tmp_path, "--layout", "paper", "--format", "latex").stdout
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "\\multicolumn{3}{c}{nli (accuracy)} & \\multicolumn{3}{c}{qa (f1)}" in tex
    assert "\\cmidrule(lr){5-7} \\cmidrule(lr){8-10}" in tex
    assert "\\textbf{74.0 $\\pm$ 1.0}$^{\\dagger}$" in tex


def test_paper_layout_splits_rows_by_a_setting_that_varies_within_a_selector(tmp_path):
    for limit in (1000, 5000):
        for selector in ("standard", "topdown"):
            write_cell(tmp_path, f"{limit}-{selector}", 1, {"en": 0.7, "de": limit / 10000}, selector=selector,
                       **{"task.train_limit": limit})
    md = report(tmp_path, "--layout", "paper", "--format", "markdown").stdout
    assert md.splitlines()[0].startswith("| model | adapter | task.train\\_limit | selector | seeds |")
    assert "| world | madx | 1000 | standard | 1 | 70.0 (n=1) | 10.0 (n=1) | 10.0 (n=1) |" in md
    assert "| world | madx | 5000 | topdown | 1 | 70.0° (n=1) | 50.0° (n=1) | 50.0° (n=1) |" in md


# -- the paper layout shows n, and tells 'not significant' from 'not tested' (issue 28, item 5) ---------------


def test_the_paper_layout_shows_n_keeps_a_zero_std_and_marks_one_seed(tmp_path):
    for seed in (1, 2):
        write_cell(tmp_path, "std", seed, {"en": 0.70, "de": 0.60})  # two equal seeds: std 0, still shown
    write_cell(tmp_path, "gu", 1, {"en": 0.75, "de": 0.65}, selector="topdown")
    md = report(tmp_path, "--layout", "paper", "--format", "markdown").stdout
    assert "| world | madx | standard | 2 | 70.0 ± 0.0 | 60.0 ± 0.0 | 60.0 ± 0.0 |" in md
    assert "| world | madx | topdown | 1 | **75.0**° (n=1) | **65.0**° (n=1) | **65.0**° (n=1) |" in md
    assert "sample std" in md and "(n=1): one seed" in md
    tex = report(tmp_path, "--layout", "paper", "--format", "latex").stdout
    assert "sample std" in tex and "\\textbf{75.0}$^{\\circ}$ (n=1)" in tex
    table = report(tmp_path, "--layout", "paper").stdout
    assert "seeds" in table and "sample std" in table


def test_not_significant_is_not_the_same_as_not_tested(tmp_path):
    import csv
    import io

    for seed, (a, b, c) in enumerate([(0.70, 0.69, 0.60), (0.72, 0.73, 0.61), (0.71, 0.70, 0.62)], 1):
        write_cell(tmp_path, "std", seed, {"en": a, "de": a - 0.1})
        write_cell(tmp_path, "noise", seed, {"en": b, "de": b - 0.1}, selector="fisher")  # tested, not significant
        write_cell(tmp_path, "other", seed + 10, {"en": c, "de": c - 0.1}, selector="topdown")  # no common seed
    md = report(tmp_path, "--layout", "paper", "--format", "markdown").stdout
    rows = {line.split(" | ")[2]: line for line in md.splitlines()[2:5]}
    assert "°" not in rows["fisher"] and "†" not in rows["fisher"]
    assert rows["topdown"].count("°") == 3 and "°" not in rows["standard"]
    assert "not tested" in md and "not significant" in md
    found = {r["selector"]: r for r in csv.DictReader(io.StringIO(
        report(tmp_path, "--layout", "paper", "--format", "csv").stdout))}
    assert (found["fisher"]["nli en tested"], found["topdown"]["nli en tested"], found["standard"]["nli en tested"]) \
        == ("yes", "no", "")


def test_the_test_is_paired_not_unpaired(tmp_path):
    """Seeds that differ a lot from each other, each a little above standard: the paired t-test finds it
    (p = 0.008), an unpaired (Welch) one would not (p ~ 0.95). Planted: a Welch test fails both checks."""
    from unfreeze_report.stats import paired_t_test

    # d = 1, 0.5, 2: mean 7/6, sd 0.7638, t = 2.6458 with 2 df: p = 1 - t / sqrt(2 + t^2) = 0.118083
    assert paired_t_test([10, 20, 30], [9, 19.5, 28]) == pytest.approx(0.1180829, abs=1e-6)
    for seed, base in enumerate((0.50, 0.60, 0.70), 1):
        write_cell(tmp_path, "std", seed, {"en": base, "de": base})
        write_cell(tmp_path, "gu", seed, {"en": base + 0.02 - 0.0025 * (seed == 2), "de": base},
                   selector="topdown")
    md = report(tmp_path, "--layout", "paper", "--format", "markdown").stdout
    topdown = next(line for line in md.splitlines() if "| topdown |" in line)
    assert topdown.split(" | ")[4].endswith("†"), topdown


def test_names_with_markdown_and_latex_characters_are_escaped(tmp_path):
    name = "my_sel|x*&%$#{}~^\\"
    write_cell(tmp_path, "a", 1, {"en": 0.7, "de": 0.6}, selector="standard")
    write_cell(tmp_path, "b", 1, {"en": 0.7, "de": 0.6}, selector=name)
    md = report(tmp_path, "--layout", "paper", "--format", "markdown").stdout
    assert "my\\_sel\\|x\\*&%$#{}\\~^\\\\" in md
    tex = report(tmp_path, "--layout", "paper", "--format", "latex").stdout
    assert ("my\\_sel|x*\\&\\%\\$\\#\\{\\}\\textasciitilde{}\\textasciicircum{}\\textbackslash{}") in tex
    cells = report(tmp_path, "--format", "latex").stdout
    assert "my\\_sel|x*\\&\\%" in cells


def test_t_distribution_against_tables():
    from unfreeze_report.stats import paired_t_test, t_two_sided

    # two-sided 5 % critical values of Student's t (any statistics table)
    for t, df in ((12.7062047, 1), (4.30265273, 2), (2.77644511, 4), (2.22813885, 10), (1.95996398, 10**6)):
        assert t_two_sided(t, df) == pytest.approx(0.05, abs=1e-6)
    assert t_two_sided(1.0, 3) == pytest.approx(0.391002218, abs=1e-8)  # 2 * (1 - F_3(1))
    assert t_two_sided(0.0, 5) == 1.0
    # d = 1, 2, 3: mean 2, sd 1, t = 2 * sqrt(3) = 3.4641, df 2 -> p = 0.07418
    assert paired_t_test([2, 3, 4], [1, 1, 1]) == pytest.approx(0.0741799, abs=1e-6)
    assert paired_t_test([1.0], [0.0]) is None
    assert paired_t_test([1, 2], [1, 2]) == 1.0 and paired_t_test([2, 3], [1, 2]) == 0.0


# ---------------------------------------------------------------- never fail on a folder's content

def nested(depth):
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("content", [
    '{"task": "nli", "adapter": "madx", "selector": "standard", "seed": 1, "metric": "accuracy", '
    '"scores": {"en": NaN, "de": 0.5}}',
    '{"task": "nli", "adapter": "madx", "selector": "standard", "seed": 1, "metric": "accuracy", '
    '"scores": {"en": Infinity, "de": 0.5}}',
    '{"task": "nli", "adapter": "madx", "selector": "standard", "seed": 1, "metric": "accuracy", '
    '"scores": {"en": 0.7, "de": 0.5}, "avg_xling": -Infinity}',
    '{"task": "nli", "adapter": "madx", "selector": "standard", "seed": 1, "metric": "accuracy", '
    '"scores": {"en": 1e308, "de": 0.5}}',
    '{"task": "nli", "adapter": "madx", "selector": "standard", "seed": 1e308, "metric": "accuracy", '
    '"scores": {"en": 0.7}}',
    '{"task": "nli", "adapter": "madx", "selector": "standard", "seed": 1, "metric": "accuracy", '
    '"scores": {"en": 0.7}, "settings": [1, 2]}',
    '{"a": ' + nested(100_000) + '}',
])
def test_a_bad_results_json_is_skipped_and_named(runs, content):
    bad = runs / "bad" / "seed1"
    bad.mkdir(parents=True)
    (bad / "results.json").write_text(content)
    for fmt in ("table", "markdown", "json", "csv", "latex"):
        for layout in ("cells", "paper"):
            result = report(runs, "--format", fmt, "--layout", layout)
            assert result.exit_code == 0, result.output
            assert f"skipped {bad / 'results.json'}" in result.stderr
            assert "nan" not in result.stdout.lower() and "inf" not in result.stdout.lower()


def test_a_bad_config_yaml_of_an_older_run_is_skipped_and_named(runs):
    run = runs / "nli-madx-topdown" / "seed1"
    (run / "config.yaml").write_text("options: " + nested(5000) + "\n")
    result = report(runs)
    assert result.exit_code == 0 and f"skipped {run / 'config.yaml'}" in result.stderr
    (run / "config.yaml").write_text("options: [1, 2]\n")
    assert "'options' must map plugin kinds" in report(runs).stderr


def test_out_writes_the_table_whole(runs, tmp_path):
    out = tmp_path / "t" / "table.tex"
    result = report(runs, "--layout", "paper", "--format", "latex", "--out", out)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("\\begin{tabular}") and result.stdout.strip() == str(out)
    assert [p.name for p in out.parent.iterdir()] == ["table.tex"]


@pytest.mark.parametrize("where", ["file/table.md", "."])
def test_an_unwritable_out_is_one_line(runs, tmp_path, where):
    (tmp_path / "file").write_text("a file, not a folder")
    result = report(runs, "--format", "markdown", "--out", tmp_path / where)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --out"), result.stderr
    assert (tmp_path / "file").read_text() == "a file, not a folder"


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    from unfreeze_core.errors import UnfreezeError
    from unfreeze_report.output import write_all

    def fail(path):
        raise OSError(28, "No space left on device")

    with pytest.raises(UnfreezeError, match="cannot write .*b.md: No space left on device"):
        write_all({tmp_path / "a.md": "first", tmp_path / "b.md": fail})
    assert list(tmp_path.iterdir()) == []
