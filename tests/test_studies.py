"""The world studies (studies/): the findings grid as sweep files, and the summary that reads their run folders."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from unfreeze_core.testing import world_grid
from unfreeze_cli.main import cli
from unfreeze_core import grid as grids

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ROOT / "studies"
GRIDS = sorted((STUDIES / "grids").glob("*.yaml"))


@pytest.fixture
def summary_module():
    sys.path.insert(0, str(STUDIES))
    try:
        import findings_summary

        yield findings_summary
    finally:
        sys.path.remove(str(STUDIES))


def test_every_study_grid_resolves_with_the_findings_cells(tmp_path):
    cells = {}
    for path in GRIDS:
        grid = grids.load_grid(path)
        assert grid.name == path.stem, "the summary finds a study's runs by its grid name"
        cells[grid.name] = grids.cells(grid, tmp_path)
    assert {name: len(found) for name, found in cells.items()} == {
        "nli": 48, "nli_long": 24, "copa": 18, "qa": 12, "fisher_curves": 6, "schedules": 15, "fun_top_first": 3,
        "one_unit": 8}
    for study, batches in (("nli", 40), ("nli_long", 40), ("copa", 30), ("qa", 40)):
        fun = [c.settings for c in cells[study] if c.point["selector"] == "fisher"]
        assert fun and all(s["options"]["selector"] == {"stop_z": 0} and s["fisher_batches"] == batches for s in fun)
        assert all(c.settings["threads"] == 1 and c.settings["fisher"] == "exact" for c in cells[study])
    orders = [c.settings["options"]["selector"]["order"] for c in cells["schedules"]]
    assert orders[0] == list(range(7, -1, -1)) and all(sorted(o) == list(range(8)) for o in orders)
    assert len({tuple(o) for o in orders}) == 15
    assert [c.settings["options"]["selector"]["units"] for c in cells["one_unit"]][:2] == [[7], [0]]
    assert all(c.settings["options"]["selector"]["top_first"] is True for c in cells["fun_top_first"])


V3_GRIDS = sorted((STUDIES / "grids" / "v3").glob("*.yaml"))
V3_ONLY = {"full_ft.yaml", "full_ft_adapters.yaml", "full_ft_schedules.yaml"}
"""v3 studies without a v2 grid (issue 32: full fine-tuning against the adapters)."""


def test_the_full_fine_tuning_study_compares_with_nli_yamls_own_adapter_cells(tmp_path):
    """full_ft_adapters.yaml is v3 nli.yaml's standard, GU and LPFT cells with seeds 1-4, setting for setting;
    full_ft.yaml and full_ft_schedules.yaml differ from them only in the backend, the lr and the selector."""
    v3 = STUDIES / "grids" / "v3"
    nli = {c.id: c.settings for c in grids.cells(grids.load_grid(v3 / "nli.yaml"), tmp_path)}
    adapters = {c.id: c.settings for c in grids.cells(grids.load_grid(v3 / "full_ft_adapters.yaml"), tmp_path)}
    assert sorted(adapters) == sorted(f"selector={s}/seed{n}" for s in ("standard", "topdown", "lpft")
                                      for n in (1, 2, 3, 4))
    same = lambda a, b: {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)} <= {"output_dir"}  # noqa: E731
    assert all(same(adapters[cell], nli[cell]) for cell in adapters)
    for name in ("full_ft.yaml", "full_ft_schedules.yaml"):
        for cell in grids.cells(grids.load_grid(v3 / name), tmp_path):
            madx = nli[f"selector={cell.settings['selector']}/seed{cell.point['seed']}"]
            changed = {k for k in cell.settings.keys() | madx.keys() if cell.settings.get(k) != madx.get(k)}
            assert changed <= {"adapter", "lr", "output_dir"} and cell.settings["adapter"] == "full", (name, changed)


def test_the_v3_grids_are_v2s_cells_with_their_own_seeds(tmp_path):
    """World v3's studies change only the seeds (NLI: 16) and COPA's and QA's budgets; every other setting of
    every cell is v2's, so a v3 verdict differs from v2's only by the world."""
    assert "nli.yaml" in [p.name for p in V3_GRIDS]
    for path in V3_GRIDS:
        if path.name in V3_ONLY:
            continue
        v3 = {c.id: c.settings for c in grids.cells(grids.load_grid(path), tmp_path)}
        v2 = {c.id: c.settings for c in grids.cells(grids.load_grid(STUDIES / "grids" / path.name), tmp_path)}
        assert {c.rpartition("/")[0] for c in v3} == {c.rpartition("/")[0] for c in v2}, path.name
        budget = {"steps", "k"} if path.stem in ("copa", "qa") else set()
        for cell in v3.keys() & v2.keys():
            changed = {k for k in v3[cell].keys() | v2[cell].keys() if v3[cell].get(k) != v2[cell].get(k)}
            assert changed <= budget, (path.name, cell, changed)
    nli = grids.cells(grids.load_grid(STUDIES / "grids" / "v3" / "nli.yaml"), tmp_path)
    assert sorted({c.point["seed"] for c in nli}) == list(range(1, 17)) and len(nli) == 96


def test_the_readme_names_every_study_and_its_command():
    readme = (STUDIES / "README.md").read_text()
    for path in GRIDS:
        assert f"grids/{path.name}" in readme, path.name
    for script in STUDIES.glob("*.py"):
        assert f"studies/{script.name}" in readme, script.name


def test_the_summary_reads_the_sweeps_run_folders(tmp_path, summary_module):
    grid = world_grid(tmp_path, name="nli", seeds=(1, 2), steps=8)
    runs = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["sweep", str(grid), "--output-dir", str(runs)])
    assert result.exit_code == 0, result.output
    summary = summary_module.summarise([grid], runs, tmp_path / "out")
    assert summary["cells"] == {"nli": "4/4"}
    topdown = summary["transfer"]["nli"]["topdown"]
    assert topdown["seeds"] == [1, 2] and topdown["d_avg"]["n"] == 2 and "lo" in topdown["d_avg"]
    assert (tmp_path / "out" / "summary.md").read_text().startswith("### nli (2 seeds)")
    more = summary_module.summarise([grid], runs, tmp_path / "more", seeds=[1, 2, 3])
    assert more["cells"] == {"nli": "4/6"}, "a cell that did not run is counted, not guessed"


def test_the_real_weights_grid_is_english_only_minilm_with_8_seeds(tmp_path):
    cells = grids.cells(grids.load_grid(STUDIES / "grids" / "real" / "nli.yaml"), tmp_path)
    assert len(cells) == 48 and sorted({c.point["seed"] for c in cells}) == list(range(1, 9))
    assert all(c.settings["model"] == "minilm" and c.settings["options"]["task"]["languages"] == ["en"]
               for c in cells)
    tracked = {c.point["selector"] for c in cells if c.settings.get("fisher_every")}
    assert tracked == {"standard", "topdown"}


def test_the_summary_of_an_english_only_study(tmp_path, summary_module):
    """Runs without target languages (the real-weights grid): verdicts on English, FUN's tau against the
    top-down order of the model's own units, tr(F) curves from the study's own tracked cells."""
    grid = world_grid(tmp_path, name="nli", selectors=("standard", "topdown", "fisher"), seeds=(1, 2), steps=8,
                      options={"task": {"eval_limit": 8, "train_limit": 64, "languages": ["en"]}},
                      axes={"selector": {"standard": {"fisher_every": 4, "fisher_batches": 1},
                                         "topdown": {"k": 1, "fisher_every": 4, "fisher_batches": 1},
                                         "fisher": {"k": 1, "fisher_batches": 1}}})
    runs = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["sweep", str(grid), "--output-dir", str(runs)])
    assert result.exit_code == 0, result.output
    summary = summary_module.summarise([grid], runs, tmp_path / "out")
    table = summary["transfer"]["nli"]
    assert table["topdown"]["verdict_on"] == "en" and "lo" in table["topdown"]["d_en"] and "d_avg" not in table["topdown"]
    fun = summary["fun"]["nli"]
    assert set(fun["per_seed"]) == {1, 2} and len(fun["tau_ci"]) == 2
    assert all(e["tau"] == summary_module.kendall_tau(e["order"], summary_module.top_down(len(e["order"])))
               for e in fun["per_seed"].values())
    assert set(summary["fisher_curves"]["early_ratio"]) == {1, 2}
    text = (tmp_path / "out" / "summary.md").read_text()
    assert text.startswith("### nli (2 seeds, English only)") and "(c) FUN's order" in text and "(d) tr(F)" in text


def test_the_summary_without_its_runs_folder_is_one_line(tmp_path, summary_module, capsys):
    assert summary_module.main(["--runs", str(tmp_path / "none"), "--dest", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no runs folder" in err


def _checked_world(tmp_path, avgs, en=72.0, probe=(49.0, 50, 50, 50, 50, 55.0, 50, 50, 50), negated=0.5):
    """A world folder and check runs already made (scores, probe, phenomena): world_properties only decides."""
    import json

    world, runs = tmp_path / "w", tmp_path / "runs"
    for part in ("model", "adapters", "data/nli"):
        (world / part).mkdir(parents=True)
    (world / "manifest.json").write_text(json.dumps({"timings": {"total_s": 300}}))
    for seed, avg in zip((101, 102, 103, 104), avgs):
        folder = runs / f"s{seed}" / "nli-madx-standard" / f"seed{seed}"
        folder.mkdir(parents=True)
        scores = {"en": en / 100, **{lang: avg / 100 for lang in ("qa", "qc", "qd", "qg", "qk")}}
        (folder / "results.json").write_text(json.dumps({"scores": scores}))
        (runs / f"s{seed}" / "wall_s.txt").write_text("70.0\n")
    v2 = json.loads((ROOT / "docs/findings/v2/world_layers.json").read_text())["layers"]
    layers = [{"probe_en": p / 100, "retrieval_avg": ref["retrieval_avg"]} for p, ref in zip(probe, v2)]
    (runs / "layers.json").write_text(json.dumps({"layers": layers}))
    (runs / "phenomena.json").write_text(json.dumps({"summary": {"standard": {"negated": {"avg_no_en": negated}}}}))
    return world, runs


def test_world_properties_decides_each_property_by_its_fixed_rule(tmp_path):
    sys.path.insert(0, str(STUDIES))
    try:
        import world_properties
    finally:
        sys.path.remove(str(STUDIES))
    world, runs = _checked_world(tmp_path, avgs=(66.0, 67.0, 68.0, 69.0))
    verdicts = {k.split()[0]: v["passes"] for k, v in world_properties.properties(world, runs, [101, 102, 103, 104])
                ["properties"].items()}
    assert verdicts == {f"P{i}": True for i in range(1, 8)}
    spread = _checked_world(tmp_path / "b", avgs=(64.0, 67.0, 68.0, 70.0), en=69.9, probe=(50, 50, 50, 50, 50, 54.9, 50, 50, 50),
                            negated=0.449)
    verdicts = {k.split()[0]: v["passes"] for k, v in world_properties.properties(*spread, [101, 102, 103, 104])
                ["properties"].items()}
    assert verdicts == {"P1": False, "P2": True, "P3": False, "P4": True, "P5": False, "P6": False, "P7": True}


def test_world_properties_refuses_a_folder_that_is_not_a_world(tmp_path):
    import subprocess

    done = subprocess.run([sys.executable, str(STUDIES / "world_properties.py"), "--world", str(tmp_path),
                           "--runs", str(tmp_path / "runs")], capture_output=True, text=True)
    assert done.returncode == 2 and "is not a built world" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


def test_the_qa_kinds_split_adds_up_to_the_runs_own_f1(tmp_path, summary_module):
    """world_qa_kinds.py re-answers a saved run's questions: per language, its overall F1 is the run's score,
    and the kinds' F1s weighted by their shares give it back."""
    import json

    import world_qa_kinds

    runs = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["run", "--task", "qa", "--steps", "6", "--seed", "3", "--threads", "1",
                                      "--checkpoint-every", "0", "--output-dir", str(runs)])
    assert result.exit_code == 0, result.output
    assert world_qa_kinds.main([str(runs), "--out", str(tmp_path / "kinds.json")]) == 0
    out = json.loads((tmp_path / "kinds.json").read_text())
    (entry,) = out["per_run"].values()
    scores = json.loads(next(runs.rglob("results.json")).read_text())["scores"]
    summary = out["summary"]["standard"]  # one run: its mean is the run
    assert summary["all"]["en"] == pytest.approx(scores["en"])
    assert summary["all"]["avg_no_en"] == pytest.approx(sum(v for k, v in scores.items() if k != "en") / 5)
    assert summary["answered_as"] == entry["answered_as"]
    assert entry["scores"].keys() == scores.keys()
    for lang, split in entry["scores"].items():
        assert split["all"] == pytest.approx(scores[lang], abs=1e-9), lang
        for asked, shares in entry["answered_as"][lang].items():
            assert sum(shares.values()) == pytest.approx(100), (lang, asked)
        assert sum(out["share"][k] * split[k] for k in world_qa_kinds.KINDS) == pytest.approx(split["all"]), lang
    (tmp_path / "none").mkdir()
    assert world_qa_kinds.main([str(tmp_path / "none")]) == 2
    results = next(runs.rglob("results.json"))  # a run whose scores are not what its adapter gives now
    run = json.loads(results.read_text())
    run["scores"]["qk"] += 0.5
    results.write_text(json.dumps(run))
    assert world_qa_kinds.main([str(runs)]) == 2


def test_the_qa_kinds_are_the_english_test_questions_words(summary_module):
    """The kind read from the latent examples is what the rendered English question asks (who / what / where)."""
    import json

    import world_qa_kinds
    from unfreeze_core import world

    rows = [json.loads(line) for line in (world.data_dir("qa") / "en" / "test.jsonl").open(encoding="utf-8")]
    latents = world_qa_kinds.latent_questions(world.manifest()["seed"], len(rows))
    kinds = world_qa_kinds.question_kinds(latents)
    word = {"agent": "who", "obj": "what", "place": "where"}
    assert [row["question"].split()[0] for row in rows] == [word[kinds[row["id"]]] for row in rows]
    for lang in world.LANGUAGES:  # and the constituent of the asked kind is the answer, in every language
        texts = world_qa_kinds.constituents(latents, world.manifest()["seed"], lang)
        for line in (world.data_dir("qa") / lang / "test.jsonl").open(encoding="utf-8"):
            row = json.loads(line)
            assert texts[row["id"]][kinds[row["id"]]] == row["answers"]["text"][0], (lang, row["id"])


def test_the_qa_variants_are_what_they_say_and_leave_the_world_as_it_was(tmp_path, summary_module):
    """world_qa_variants.py writes the stories the findings measured (3-5 events, two, 3-5 sharing no place),
    and the shipped generator is one-event again afterwards."""
    import json

    import world_qa_variants
    from unfreeze_core.world import generator, tasks

    def stories(variant):
        world_qa_variants.write_variant(variant, tmp_path / variant)
        rows = [json.loads(line) for line in (tmp_path / variant / "en" / "test.jsonl").open(encoding="utf-8")]
        return [row["context"].split(" . ") for row in rows]

    assert {len(s) for s in stories("v1")} == {3, 4, 5}
    assert {len(s) for s in stories("two")} == {2}
    distinct = stories("distinct")
    assert {len(s) for s in distinct} == {3, 4, 5}
    assert all(len({sentence.rstrip(" .").split()[-1] for sentence in s}) == len(s) for s in distinct)  # places
    assert generator.QA_STORY_EVENTS == (1, 1) and tasks.qa_latent is generator.qa_latent


def test_the_qa_studies_refuse_bad_arguments_before_any_work(tmp_path, summary_module, capsys):
    """A bad --threads or --out is one line and exit 2 before any run is scored; a variant is not written over a file."""
    import world_qa_kinds
    import world_qa_variants

    for argv in ([str(tmp_path), "--threads", "0"], [str(tmp_path), "--out", str(tmp_path)]):
        with pytest.raises(SystemExit) as stop:
            world_qa_kinds.main(argv)
        assert stop.value.code == 2, argv
    (tmp_path / "a_file").write_text("kept")
    with pytest.raises(SystemExit) as stop:
        world_qa_variants.main(["two", "--out", str(tmp_path / "a_file")])
    assert stop.value.code == 2 and (tmp_path / "a_file").read_text() == "kept"
    assert "is a file" in capsys.readouterr().err
