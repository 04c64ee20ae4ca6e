"""The embedded world: generator, task data, shipped artefacts, and a reduced build."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter

import pytest

from unfreeze_core import world
from unfreeze_core.world.generator import (DIGITS, FUNCTION, GRAMMAR, LANGUAGES, NAMES, PUNCT, Language,
                                           make_lexicon)
from unfreeze_core.world.tasks import TASKS, task_records

SMALL = {"train": 300, "validation": 30, "test": 60}
SCHEMA = {
    "nli": {"premise": str, "hypothesis": str, "label": int},
    "copa": {"premise": str, "choice1": str, "choice2": str, "question": str, "label": int},
    "qa": {"id": str, "title": str, "context": str, "question": str, "answers": dict},
}


@pytest.fixture(scope="module")
def records():
    return {t: task_records(t, seed=7, sizes=SMALL) for t in TASKS}


def test_interface():
    assert LANGUAGES[0] == "en" and len(LANGUAGES) >= 6 and world.LANGUAGES == LANGUAGES
    assert {GRAMMAR[c].order for c in LANGUAGES} >= {"SVO", "SOV", "VSO"}
    assert len({GRAMMAR[c].script for c in LANGUAGES}) == len(LANGUAGES)
    assert world.model_path() == world.artifacts_dir() / "model"
    assert world.lang_adapter_path("qc").name == "qc"
    assert world.data_dir("nli").name == "nli"
    with pytest.raises(KeyError):
        world.data_dir("xnli")


def test_deterministic(records):
    for t in TASKS:
        assert task_records(t, seed=7, sizes=SMALL) == records[t]
        assert task_records(t, seed=8, sizes=SMALL)[("en", "train")] != records[t][("en", "train")]
    assert make_lexicon("qk", 3) == make_lexicon("qk", 3) != make_lexicon("qk", 4)


def test_lexicons_distinct_and_complete():
    for c in LANGUAGES:
        lex = make_lexicon(c, 0)
        words = [w for w in lex.values() if w]
        assert len(words) == len(set(words)), c
        assert lex["NEG"], f"{c} has no negation word"  # the contradiction cue exists everywhere


def test_schemas(records):
    for t, recs in records.items():
        assert set(recs) == {("en", "train"), ("en", "validation")} | {(c, "test") for c in LANGUAGES}
        for (lang, split), rs in recs.items():
            assert len(rs) == SMALL[split]
            for r in rs:
                assert {k: type(v) for k, v in r.items()} == SCHEMA[t], (t, r)
                if t == "nli":
                    assert r["label"] in (0, 1, 2)
                elif t == "copa":
                    assert r["label"] in (0, 1) and r["question"] in ("cause", "effect")
                else:
                    (text,), (start,) = r["answers"]["text"], r["answers"]["answer_start"]
                    assert text and r["context"][start:start + len(text)] == text
    labels = Counter(r["label"] for r in records["nli"][("en", "train")])
    assert max(labels.values()) - min(labels.values()) <= 1


def _facts(ev) -> set[str]:
    """What an event asserts beyond its core (agent, verb, object head): its modifiers."""
    out = {f"agent:{a}" for a in ev.agent.adjs} | {f"obj:{a}" for a in ev.obj.adjs}
    return out | {f"{m}:{getattr(ev, m)}" for m in ("place", "time") if getattr(ev, m)}


def test_nli_labels_follow_monotonicity_under_negation():
    """Latent NLI pairs mean what their labels say: a positive premise entails a less specific
    hypothesis, a negated one a more specific one; contradiction flips the polarity of something the
    premise settles; neutral is the wrong direction or another event. And no single cue decides."""
    import random

    from unfreeze_core.world.generator import nli_latent

    rng = random.Random(3)
    seen = Counter()
    for i in range(3000):
        label = i % 3
        prem, hyp = nli_latent(rng, label)
        same_event = (prem.agent.head, prem.verb, prem.obj.head) == (hyp.agent.head, hyp.verb, hyp.obj.head)
        p, h = _facts(prem), _facts(hyp)
        less, more = h < p, h > p
        lengthens = len(h) > len(p)
        seen[label, prem.neg, lengthens] += 1
        if label == 0:
            assert same_event and hyp.neg == prem.neg and (more if prem.neg else less), (prem, hyp)
        elif label == 2:
            assert same_event and hyp.neg != prem.neg and (h >= p if prem.neg else h <= p), (prem, hyp)
        else:
            assert hyp.neg == prem.neg
            assert not same_event or (less if prem.neg else more), (prem, hyp)
    # both polarities under every label, and the length change points both ways within a label
    for label in range(3):
        assert {neg for (y, neg, _) in seen if y == label} == {False, True}
        assert {lengthens for (y, _, lengthens) in seen if y == label} == {False, True}


def test_nli_role_exchange_is_neutral():
    import random

    from unfreeze_core.world.generator import NOUNS, nli_latent

    rng = random.Random(5)
    swapped = [(p, h) for p, h in (nli_latent(rng, 1) for _ in range(3000))
               if (p.agent.head, p.obj.head, p.verb) == (h.obj.head, h.agent.head, h.verb)]
    assert len(swapped) > 50 and all(p.obj.head in NOUNS["person"] for p, _ in swapped)


def _anchors(text: str) -> list[str]:
    """Names and digits: spelled the same in every language."""
    return sorted(re.findall(r"[A-Z][a-z]+|[0-9]", text))


def test_test_sets_parallel(records):
    for t, recs in records.items():
        en = recs[("en", "test")]
        for c in LANGUAGES[1:]:
            other = recs[(c, "test")]
            for a, b in zip(en, other, strict=True):
                if t == "qa":
                    assert a["id"] == b["id"]
                    assert _anchors(a["context"]) == _anchors(b["context"])
                    assert _anchors(a["question"]) == _anchors(b["question"])
                else:
                    assert a["label"] == b["label"]
                    assert _anchors(a["premise"]) == _anchors(b["premise"])
                if t == "copa":
                    assert a["question"] == b["question"]
                if t == "nli":
                    assert _anchors(a["hypothesis"]) == _anchors(b["hypothesis"])


def test_no_language_only_label_cue(records):
    """Every word is a concept form or a shared anchor; concepts that some language lacks (articles,
    object markers) are not label cues."""
    anchors = set(NAMES) | set(DIGITS) | set(PUNCT)
    for c in LANGUAGES:
        lex = make_lexicon(c, 7)
        vocab = {w for w in lex.values() if w} | anchors
        for r in records["nli"][(c, "test")] + records["copa"][(c, "test")]:
            texts = [v for k, v in r.items() if isinstance(v, str) and k != "question"]
            for text in texts:
                assert set(text.split()) <= vocab, (c, text)
    lex = make_lexicon("en", 7)
    partial = [lex[k] for k in FUNCTION if lex[k] and any(not make_lexicon(c, 7)[k] for c in LANGUAGES)]
    recs = task_records("nli", seed=7, sizes={"train": 3000})[("en", "train")]
    for word in partial:
        rate = [sum(word in r["hypothesis"].split() for r in recs if r["label"] == y) /
                sum(r["label"] == y for r in recs) for y in range(3)]
        assert max(rate) - min(rate) < 0.1, (word, rate)


def test_rendering_orders():
    ev_words = {}
    from unfreeze_core.world.generator import NP, Event
    ev = Event(NP("Anna", name=True), "eat", NP("apple"), "park")
    for c in LANGUAGES:
        lang = Language(c, 0)
        words = lang.sentence(ev).words
        ev_words[c] = words
        pos = {k: words.index(lang.w(k)) for k in ("eat", "apple")}
        pos["Anna"] = words.index("Anna")
        order = "".join(x for _, x in sorted([(pos["Anna"], "S"), (pos["eat"], "V"), (pos["apple"], "O")]))
        assert order == GRAMMAR[c].order, (c, words)
    assert " ".join(ev_words["en"]) == "Anna eats the apple in the park ."


# ----------------------------------------------------------------------------------------
# shipped artefacts
# ----------------------------------------------------------------------------------------

shipped = pytest.mark.skipif(not (world.artifacts_dir() / "manifest.json").exists(),
                             reason="world artefacts not built")


@shipped
def test_artifacts_checksums_and_size():
    from unfreeze_core.world.build import checksums

    m = world.manifest()
    assert checksums(world.artifacts_dir()) == m["files"]
    assert m["bytes"] <= 20_000_000
    assert m["encoder"]["layers"] >= 8


@shipped
def test_the_shipped_world_is_what_a_default_build_makes():
    """`unfreeze world build --seed 0` rebuilds the shipped world: its manifest's settings are BuildConfig's
    defaults (v3: summary 0.75, given-new 0.25, pairs 0.5)."""
    from dataclasses import asdict

    from unfreeze_core.world.build import BuildConfig

    assert world.manifest()["config"] == asdict(BuildConfig())


@shipped
def test_artifacts_load():
    from adapters import AutoAdapterModel
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(world.model_path()))
    assert None not in (tok.mask_token_id, tok.pad_token_id, tok.cls_token_id, tok.sep_token_id)
    model = AutoAdapterModel.from_pretrained(str(world.model_path()))
    assert model.config.model_type == "xlm-roberta" and model.config.num_hidden_layers >= 8
    for lang in LANGUAGES:
        assert model.load_adapter(str(world.lang_adapter_path(lang)), load_as=lang) == lang
        assert json.loads((world.lang_adapter_path(lang) / "adapter_config.json").read_text())["model_name"] == "world"
        cfg = model.adapters_config.get(lang)
        assert cfg["reduction_factor"] == 2 and cfg["inv_adapter"] == "nice"
    for task in TASKS:
        d = world.data_dir(task)
        assert (d / "en" / "train.jsonl").exists() and (d / "en" / "validation.jsonl").exists()
        lines = [len((d / c / "test.jsonl").read_text(encoding="utf-8").splitlines()) for c in LANGUAGES]
        assert len(set(lines)) == 1


# ----------------------------------------------------------------------------------------
# a reduced build through the CLI
# ----------------------------------------------------------------------------------------

def test_build_small(tmp_path):
    from click.testing import CliRunner

    from unfreeze_cli.world import world as world_cli

    out = tmp_path / "w"
    res = CliRunner().invoke(world_cli, ["build", "--small", "--seed", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["seed"] == 1 and (out / "model" / "model.safetensors").exists()
    for lang in LANGUAGES:
        assert (out / "adapters" / lang / "adapter_config.json").exists()
    res = CliRunner().invoke(world_cli, ["info", "--dir", str(out)])
    assert res.exit_code == 0, res.output
    assert "qk" in res.output and "layers" in res.output

    # rebuilding only the language adapters reproduces the whole build's files
    for lang in LANGUAGES:
        (out / "adapters" / lang / "pytorch_adapter.bin").unlink()
    res = CliRunner().invoke(world_cli, ["build", "--small", "--seed", "1", "--out", str(out), "--only", "adapters"])
    assert res.exit_code == 0, res.output
    again = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert again["files"] == m["files"] and again["language_adapters"] == m["language_adapters"]
    res = CliRunner().invoke(world_cli, ["build", "--small", "--seed", "2", "--out", str(out), "--only", "adapters"])
    assert res.exit_code != 0 and "other settings (seed)" in str(res.exception)

    # and rewriting only the task data, too
    (out / "data" / "nli" / "en" / "train.jsonl").write_text("")
    res = CliRunner().invoke(world_cli, ["build", "--small", "--seed", "1", "--out", str(out), "--only", "data"])
    assert res.exit_code == 0, res.output
    again = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert again["files"] == m["files"] and again["task_versions"] == m["task_versions"]

    # a world built before a knob existed (its manifest lacks it) is rebuilt with the knob's default
    older = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    del older["config"]["consequences"]
    (out / "manifest.json").write_text(json.dumps(older))
    res = CliRunner().invoke(world_cli, ["build", "--small", "--seed", "1", "--out", str(out), "--only", "data"])
    assert res.exit_code == 0, res.output

    # a corrupt manifest is one line, and the files stay as they were
    before = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    for text in ('{"seed": 1, "config": ', "[1, 2]"):
        (out / "manifest.json").write_text(text)
        res = CliRunner().invoke(world_cli, ["build", "--small", "--seed", "1", "--out", str(out), "--only", "data"])
        assert res.exit_code != 0 and "manifest of the world" in str(res.exception) and "build it whole" in str(res.exception)
        assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == before


def test_consequence_pairs_in_the_pretraining_text():
    """--consequences P appends, to a share P of the documents, an event and the state its polarity implies;
    P = 0 (the shipped world) draws nothing extra, so its text is unchanged."""
    from click.testing import CliRunner

    from unfreeze_cli.world import world as world_cli
    from unfreeze_core.world.build import corpus
    from unfreeze_core.world.generator import CONSEQUENCES

    plain, every = corpus(0, 1), corpus(0, 40, consequences=1.0)
    for code in LANGUAGES:
        assert every[code][0].startswith(plain[code][0]) and len(every[code][0]) > len(plain[code][0])
    states = {state for outcomes in CONSEQUENCES.values() for (state, _) in outcomes}  # English forms = keys
    assert all(doc.split(" . ")[-1].split()[-2] in states for doc in every["en"]), "the last sentence is the state"
    shipped = hashlib.sha256(json.dumps(corpus(0, 20, consequences=0.0)).encode()).hexdigest()
    assert shipped == "f51bb40c14890bc23fb02c5fd3d209c0e1a2e010f762463291a6db16fee0506b", "v2's text changed"
    res = CliRunner().invoke(world_cli, ["build", "--small", "--consequences", "2", "--out", "/nonexistent/x"])
    assert res.exit_code != 0 and "from 0 to 1" in str(res.exception)


def test_the_document_summary_is_language_free_and_follows_polarity_and_order():
    """The first token's pretraining target (world v3): what the first sentence and the rest assert and deny,
    and who acts; recorded without drawing a random number."""
    from unfreeze_core.world.build import corpus
    from unfreeze_core.world.generator import (NP, SUMMARY_PARTS, SUMMARY_WORDS, Event, State, summary_target)

    n = len(SUMMARY_WORDS)

    def parts(sentences):
        return {(SUMMARY_PARTS[i // n], SUMMARY_WORDS[i % n]) for i in summary_target(sentences)}

    denied = Event(NP("Anna"), "eat", NP("apple", ("red",)), place="park", neg=True)
    later = State(NP("king", ("old",)), "hungry")
    assert parts([[denied], [], [later]]) == {
        ("first-", "eat"), ("first-", "apple"), ("first-", "red"), ("first-", "park"), ("first agent", "Anna"),
        ("rest+", "hungry"), ("rest agent", "king"), ("rest agent", "old")}
    # the same event asserted later, with a modifier dropped
    plain = Event(NP("Anna"), "eat", NP("apple"), place="park")
    assert parts([[denied], [plain]]) - parts([[denied]]) == {
        ("rest+", "eat"), ("rest+", "apple"), ("rest+", "park"), ("rest agent", "Anna")}
    # recording the latent clauses changes no text: v2's corpus hash is unchanged
    summaries: dict = {}
    text = corpus(0, 20, consequences=0.0, summaries=summaries)
    assert hashlib.sha256(json.dumps(text).encode()).hexdigest() == \
        "f51bb40c14890bc23fb02c5fd3d209c0e1a2e010f762463291a6db16fee0506b"
    assert set(summaries) == set(LANGUAGES) and all(len(summaries[c]) == 20 and all(summaries[c]) for c in LANGUAGES)


def test_given_new_tags_mark_what_the_rest_repeats_and_adds():
    """Each content word is tagged by side (first sentence or rest) and by whether the other side has it."""
    from unfreeze_core.world.pretrain import GIVEN_NEW, given_new_tags

    # ids: 1 Anna, 2 eats, 3 the (not content), 4 red, 5 apple, 9 '.', 6 Omar, 7 full
    tags = given_new_tags([0, 1, 2, 3, 4, 5, 9, 1, 2, 3, 5, 9, 6, 7, 9], content={1, 2, 4, 5, 6, 7}, stops={9})
    names = [GIVEN_NEW[t] if t >= 0 else None for t in tags]
    assert names == [None, "first given", "first given", None, "first new", "first given", None,
                     "rest given", "rest given", None, "rest given", None, "rest new", "rest new", None]


def test_pairs_split_a_document_after_its_first_sentence():
    from unfreeze_core.world.build import split_first

    assert split_first("Emil drinks because Emil is thirsty . Emil is wet . Who eats ?") == \
        ("Emil drinks because Emil is thirsty .", "Emil is wet . Who eats ?")
    assert split_first("Who eats the apple ? Emil is wet .") == ("Who eats the apple ?", "Emil is wet .")
    assert split_first("Emil is wet .") == ("Emil is wet .", "")


@pytest.mark.parametrize("flag, value, says", [
    ("--pairs", "2", "--pairs is a share of documents, from 0 to 1 (got 2.0)"),
    ("--consequences", "nan", "--consequences is a share of documents, from 0 to 1 (got nan)"),
    ("--summary", "-1", "--summary is a weight, a finite number >= 0 (got -1.0)"),
    ("--given-new", "inf", "--given-new is a weight, a finite number >= 0 (got inf)"),
    ("--align-first", "nan", "--align-first is a weight, a finite number >= 0 (got nan)"),
])
def test_a_knob_out_of_its_range_is_one_line_and_builds_nothing(flag, value, says, tmp_path):
    from click.testing import CliRunner

    from unfreeze_cli.world import world as world_cli

    res = CliRunner().invoke(world_cli, ["build", "--small", flag, value, "--out", str(tmp_path / "w")])
    assert res.exit_code != 0 and str(res.exception) == says
    assert not (tmp_path / "w").exists()


def test_every_build_knob_has_an_option_and_a_place_in_the_manifest():
    from unfreeze_cli.world import KNOBS
    from unfreeze_core.world.build import OPTIONAL_KNOBS, BuildConfig

    assert list(KNOBS) == ["alpha", *OPTIONAL_KNOBS]
    assert all(hasattr(BuildConfig(), name) for name in KNOBS)
