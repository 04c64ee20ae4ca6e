"""Which world QA questions does a trained task adapter answer? F1 per question word and language.

The world's QA (task version 2, docs/world.md) asks who acted, what they acted on, or where. The three
differ in what the answer is (a name or a person noun; an object phrase with its adjectives; a place) and in
where each language puts it. This script reloads the task adapters that finished runs saved
(``<run>/task_adapter``), answers every test question of every language, and splits the F1 (the run's own
metric, MLQA rules) by the question's kind, read from the latent examples the test set was rendered from
(same seed, same order: the id ``test-i`` is latent ``i``). It also says which constituent each answer is
(``answered_as``: per language and asked kind, the % of answers that are the agent, the object, the place
or none of them), which tells a wrong role from a wrong span:

    python studies/world_qa_kinds.py runs/findings-v3/qa --out docs/findings/v3/qa_8_seeds/qa_kinds.json

Each run folder is found by its results.json; runs are grouped by selector (mean over seeds).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from findings_summary import mean  # noqa: E402
from world_nli_phenomena import load_trained, summarise as summarise_kinds  # noqa: E402

KINDS = ("agent", "obj", "place")


def latent_questions(world_seed: int, n: int) -> list:
    """The latent (story, asked event, asked kind) of each world QA test question, in the files' order."""
    from unfreeze_core.world.tasks import _latents

    return [latent for latent, _ in _latents("qa", world_seed, "test", n)]


def question_kinds(latents: list) -> dict[str, str]:
    """{question id: what it asks for}."""
    return {f"test-{i}": wh for i, (_, _, wh) in enumerate(latents)}


def constituents(latents: list, world_seed: int, lang: str) -> dict[str, dict[str, str]]:
    """{question id: {kind: the text of that constituent of the asked event}} in ``lang``."""
    from unfreeze_core.world.generator import Language, join

    language, out = Language(lang, world_seed), {}
    for i, (events, q, _) in enumerate(latents):
        rendered = language.sentence(events[q])
        out[f"test-{i}"] = {k: join(rendered.words[slice(*rendered.spans[k])]) for k in KINDS}
    return out


def score_run(run_dir: Path, kinds: dict[str, str], texts: dict[str, dict]) -> tuple[dict, dict]:
    """({lang: {kind: F1 in %, "all": F1 in %}}, {lang: {asked kind: {answered kind: % of its questions}}}) of the
    task adapter saved in ``run_dir``; ``texts`` is `constituents` per language. A prediction is "answered" as
    the constituent it matches with F1 > 0.5 ("none" if it matches none)."""
    from unfreeze_core.tasks.qa_metrics import f1_score

    model, parts, prepared, _ = load_trained(run_dir)
    task, out, answered = parts.task, {}, {}
    for lang in prepared.languages:
        parts.backend.activate_language(model, lang)
        references, predictions = task.evaluate_shard(model, prepared.tokenizer, lang, shard=(0, 1),
                                                      batch_size=256, device="cpu")
        if set(references) != set(kinds):
            raise SystemExit(f"{run_dir}: its {lang} test questions are not the world's (another world or task version?)")
        f1 = {qid: 100 * max(f1_score(predictions[qid], ref, lang) for ref in refs) for qid, refs in references.items()}
        out[lang] = {k: mean([v for qid, v in f1.items() if kinds[qid] == k]) for k in KINDS}
        out[lang]["all"] = mean(list(f1.values()))
        as_kind = {qid: next((k for k in KINDS if f1_score(predictions[qid], texts[lang][qid][k], lang) > 0.5), "none")
                   for qid in kinds}
        answered[lang] = {asked: {k: 100 * mean([as_kind[q] == k for q in kinds if kinds[q] == asked])
                                  for k in (*KINDS, "none")} for asked in KINDS}
    return out, answered


def summarise(per_run: dict) -> dict:
    """`world_nli_phenomena.summarise` by question kind, and per selector and language what the answers were
    (mean over the runs)."""
    summary = summarise_kinds(per_run, KINDS)
    for selector in summary:
        runs = [r["answered_as"] for r in per_run.values() if r["selector"] == selector]
        summary[selector]["answered_as"] = {
            lang: {asked: {k: mean([r[lang][asked][k] for r in runs]) for k in shares} for asked, shares in table.items()}
            for lang, table in runs[0].items()}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="folder searched for QA run folders (with results.json)")
    parser.add_argument("--seeds", type=int, nargs="+", help="only these seeds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if not args.runs.is_dir():
        parser.error(f"no folder {args.runs}: give the folder of the QA runs to score")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.out:  # before minutes of scoring, not after
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            parser.error(f"cannot write --out {args.out}: {exc.strerror}")
        if args.out.is_dir():
            parser.error(f"--out {args.out} is a folder: give a file name")
    import torch

    from unfreeze_core import world

    torch.set_num_threads(args.threads)
    manifest = world.manifest()
    latents = latent_questions(manifest["seed"], manifest["data"]["qa"]["en/test"])
    kinds = question_kinds(latents)
    texts = {lang: constituents(latents, manifest["seed"], lang) for lang in world.LANGUAGES}
    share = {k: list(kinds.values()).count(k) / len(kinds) for k in KINDS}
    print("share of test questions:", json.dumps(share))
    per_run = {}
    for result in sorted(args.runs.rglob("results.json")):
        run = json.loads(result.read_text())
        if run.get("task") != "qa" or (args.seeds and run["seed"] not in args.seeds):
            continue
        settings = run.get("settings", {})
        if settings.get("model") != "world" or settings.get("task.data_dir"):
            print(f"skipped {result.parent}: not trained on the shipped world's QA data", file=sys.stderr)
            continue
        scores, answered = score_run(result.parent, kinds, texts)
        moved = [lang for lang, score in run["scores"].items() if abs(scores[lang]["all"] - score) > 1e-6]
        if moved:
            print(f"error: {result.parent}: re-answered, its F1 in {', '.join(moved)} is not the run's own: the world's "
                  "QA data changed since it ran (an older task version?)", file=sys.stderr)
            return 2
        per_run[str(result.parent)] = {"selector": run["selector"], "seed": run["seed"], "scores": scores,
                                       "answered_as": answered}
        xling = {k: mean([s[k] for lang, s in scores.items() if lang != "en"]) for k in (*KINDS, "all")}
        print(f"{run['selector']:>9} seed {run['seed']}: en " + " ".join(f"{k} {scores['en'][k]:.1f}" for k in KINDS)
              + " | avg(no en) " + " ".join(f"{k} {xling[k]:.1f}" for k in KINDS), flush=True)
    if not per_run:
        print(f"error: no finished QA run under {args.runs}", file=sys.stderr)
        return 2
    summary = summarise(per_run)
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"share": share, "summary": summary, "per_run": per_run}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
