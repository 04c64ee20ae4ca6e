"""The latent world and its languages: concepts, lexicons, grammars, rendering, task data.

Pure Python (no torch). Everything is a function of a seed: the same seed gives the same
lexicons, corpora and task examples, byte for byte.

A *latent* example (an event, a state, a causal pair, a question) is language-free; a
language renders it to words with its own lexicon, function words and word order. The test
sets of every task render the same latent examples in every language, in the same order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

# --------------------------------------------------------------------------------------
# Concepts (English forms are the concept keys, except verbs, whose form is 3rd person)
# --------------------------------------------------------------------------------------

NOUNS = {
    "food": ["apple", "bread", "fish", "rice", "cake", "egg", "soup", "banana", "cheese", "meat"],
    "drink": ["water", "milk", "tea", "juice", "coffee"],
    "readable": ["book", "letter", "newspaper", "story", "poem"],
    "thing": ["ball", "box", "cup", "key", "chair", "bag", "lamp", "table", "phone", "bottle"],
    "cloth": ["coat", "hat", "shirt", "shoe", "scarf"],
    "animal": ["dog", "cat", "horse", "bird", "cow", "goat"],
    "person": ["man", "woman", "child", "teacher", "doctor", "farmer", "student", "girl", "boy", "king"],
}
OBJECT_CATEGORIES = ["food", "drink", "readable", "thing", "cloth", "animal"]
COLOURS = ["red", "blue", "green", "white", "black", "yellow"]
SIZES = ["big", "small", "new"]
PERSON_ADJS = ["old", "young", "tall"]
PLACES = ["park", "house", "school", "market", "garden", "kitchen", "river", "city", "forest", "shop"]
STATES = ["hungry", "thirsty", "cold", "tired", "sick", "bored", "happy", "sad", "wet", "late", "full"]

# verb -> (English form, object categories; None = intransitive)
VERBS: dict[str, tuple[str, list[str] | None]] = {
    "eat": ("eats", ["food"]),
    "drink": ("drinks", ["drink"]),
    "cook": ("cooks", ["food"]),
    "read": ("reads", ["readable"]),
    "write": ("writes", ["readable"]),
    "buy": ("buys", ["food", "drink", "readable", "thing", "cloth"]),
    "sell": ("sells", ["food", "drink", "thing", "cloth", "animal"]),
    "see": ("sees", ["food", "readable", "thing", "cloth", "animal", "person"]),
    "carry": ("carries", ["food", "thing", "cloth", "readable"]),
    "find": ("finds", ["thing", "cloth", "animal", "readable"]),
    "lose": ("loses", ["thing", "cloth"]),
    "wash": ("washes", ["thing", "cloth", "animal"]),
    "feed": ("feeds", ["animal"]),
    "wear": ("wears", ["cloth"]),
    "paint": ("paints", ["thing"]),
    "like": ("likes", ["food", "drink", "readable", "thing", "animal", "person"]),
    "visit": ("visits", ["person"]),
    "call": ("calls", ["person", "animal"]),
    "sleep": ("sleeps", None),
    "run": ("runs", None),
    "walk": ("walks", None),
    "sing": ("sings", None),
}
TRANSITIVE = [v for v, (_, cats) in VERBS.items() if cats]
INTRANSITIVE = [v for v, (_, cats) in VERBS.items() if not cats]

# function concepts: key -> English form ("" = English has no word for it)
FUNCTION = {
    "DET": "the",
    "IN": "in",
    "AT": "at",
    "NEG": "never",  # no do-support: a negation cue that every language has (see docs/world.md)
    "COP": "is",
    "BECAUSE": "because",
    "WHO": "who",
    "WHAT": "what",
    "WHERE": "where",
    "ACC": "",  # object marker of the SOV languages
}

NAMES = [
    "Anna", "Marco", "Lena", "Omar", "Yuki", "Pablo", "Nina", "Ivan", "Sara", "Tomas",
    "Aisha", "Kenji", "Elena", "Hugo", "Maya", "Leo", "Zara", "Felix", "Ines", "Ravi",
    "Olga", "Samir", "Clara", "Diego", "Mei", "Jonas", "Lucia", "Tariq", "Vera", "Emil",
]  # shared anchors: the same Latin spelling in every language
DIGITS = [str(d) for d in range(1, 10)]  # shared anchors
PUNCT = [".", "?"]  # shared anchors


def content_concepts() -> list[str]:
    """Every lexical concept, in a fixed order (function concepts first)."""
    out = list(FUNCTION)
    for cat in NOUNS.values():
        out += cat
    out += COLOURS + SIZES + PERSON_ADJS + PLACES + STATES + list(VERBS)
    seen: set[str] = set()
    return [c for c in out if not (c in seen or seen.add(c))]


# --------------------------------------------------------------------------------------
# Languages
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grammar:
    code: str
    name: str
    script: str
    order: str  # SVO, SOV, VSO
    adj_after: bool  # adjectives follow the noun
    det: str | None  # "pre", "post" or None (no article)
    adposition: str  # "pre" or "post"
    neg: str  # "pre_verb", "post_verb" or "final"
    obj_marker: bool  # a case particle after the object
    wh_front: bool  # question words move to the front
    consonants: str = ""
    vowels: str = ""


GRAMMARS = [
    Grammar("en", "English", "Latin", "SVO", False, "pre", "pre", "pre_verb", False, True),
    Grammar("qc", "Kirvan", "Cyrillic", "SOV", False, None, "post", "pre_verb", True, False,
            "бвгдзклмнпрстфхчшж", "аеиоуя"),
    Grammar("qg", "Elthic", "Greek", "VSO", True, "pre", "pre", "pre_verb", False, True,
            "βγδζθκλμνξπρστφχ", "αεηιουω"),
    Grammar("qa", "Haykal", "Armenian", "SVO", True, "post", "pre", "post_verb", False, True,
            "բգդզթժլխծկհղմյնշչպռսվտրցփք", "աեէըիօ"),
    Grammar("qk", "Kartan", "Georgian", "SOV", True, None, "post", "final", True, False,
            "ბგდვზთკლმნპჟრსტფქღყშჩცძწჭხჯ", "აეიოუ"),
    Grammar("qd", "Devish", "Devanagari", "VSO", False, "pre", "post", "final", False, True,
            "कखगचजटडतदनपबमयरलवशसह", "\u093e\u093f\u0940\u0941\u0942\u0947\u094b"),
]
LANGUAGES = [g.code for g in GRAMMARS]
GRAMMAR = {g.code: g for g in GRAMMARS}


def _word(rng: random.Random, g: Grammar, n_syll: int) -> str:
    parts = []
    for i in range(n_syll):
        c = rng.choice(g.consonants)
        if g.script == "Devanagari":
            v = rng.choice(["", *g.vowels])  # "" = inherent vowel
        else:
            v = rng.choice(g.vowels)
        parts.append(c + v)
        if rng.random() < 0.25 and i == n_syll - 1 and g.script != "Devanagari":
            parts.append(rng.choice(g.consonants))
    return "".join(parts)


def make_lexicon(code: str, seed: int) -> dict[str, str]:
    """Concept key -> surface word in language `code` ("" where the language has no word)."""
    g = GRAMMAR[code]
    concepts = content_concepts()
    if code == "en":
        lex = {c: c for c in concepts}
        lex.update({v: form for v, (form, _) in VERBS.items()})
        lex.update(FUNCTION)
        return lex
    rng = random.Random(f"lexicon-{seed}-{code}")
    lex: dict[str, str] = {}
    used: set[str] = set()
    for c in concepts:
        if c == "DET" and g.det is None or c == "ACC" and not g.obj_marker:
            lex[c] = ""
            continue
        n = 1 if c in FUNCTION else rng.choice([2, 2, 3])
        w = _word(rng, g, n)
        while w in used:
            w = _word(rng, g, n + (1 if rng.random() < 0.3 else 0))
        used.add(w)
        lex[c] = w
    return lex


# --------------------------------------------------------------------------------------
# Latent structures
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NP:
    head: str  # a noun concept or a name
    adjs: tuple[str, ...] = ()
    count: str | None = None  # a digit
    name: bool = False


@dataclass(frozen=True)
class Event:
    agent: NP
    verb: str
    obj: NP | None = None
    place: str | None = None
    time: str | None = None  # a digit: "at 7"
    neg: bool = False


@dataclass(frozen=True)
class State:
    agent: NP
    state: str
    neg: bool = False


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------

@dataclass
class Rendered:
    """Words of a rendered clause plus word-index spans of the constituents QA asks about."""

    words: list[str] = field(default_factory=list)
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, words: list[str], key: str | None = None) -> None:
        start = len(self.words)
        self.words += [w for w in words if w]
        if key:
            self.spans[key] = (start, len(self.words))


class Language:
    def __init__(self, code: str, seed: int):
        self.g = GRAMMAR[code]
        self.code = code
        self.lex = make_lexicon(code, seed)

    def w(self, concept: str) -> str:
        return self.lex[concept]

    # noun phrases -------------------------------------------------------------------
    def np_core(self, np: NP) -> list[str]:
        if np.name:
            return [np.head]
        adjs = [self.w(a) for a in np.adjs]
        core = [self.w(np.head), *adjs] if self.g.adj_after else [*adjs, self.w(np.head)]
        return ([np.count] if np.count else []) + core

    def np(self, np: NP, out: Rendered, key: str | None = None, obj: bool = False) -> None:
        det = [] if np.name or self.g.det is None else [self.w("DET")]
        if self.g.det == "pre":
            out.add(det)
        out.add(self.np_core(np), key)
        if self.g.det == "post":
            out.add(det)
        if obj and self.g.obj_marker:
            out.add([self.w("ACC")])

    def pp(self, adp: str, np_words: list[str], out: Rendered, key: str | None = None) -> None:
        a = [self.w(adp)]
        if self.g.adposition == "pre":
            out.add(a)
            out.add(np_words, key)
        else:
            out.add(np_words, key)
            out.add(a)

    def place(self, place: str, out: Rendered, key: str | None = None) -> None:
        inner = Rendered()
        self.np(NP(place), inner, key="n")
        s, e = inner.spans["n"]
        if self.g.adposition == "pre":
            out.add([self.w("IN")])
        base = len(out.words)
        out.add(inner.words)
        if key:
            out.spans[key] = (base + s, base + e)
        if self.g.adposition == "post":
            out.add([self.w("IN")])

    # clauses ------------------------------------------------------------------------
    def _verb(self, verb: str, neg: bool) -> list[str]:
        v = self.w(verb)
        if neg and self.g.neg == "pre_verb":
            return [self.w("NEG"), v]
        if neg and self.g.neg == "post_verb":
            return [v, self.w("NEG")]
        return [v]

    def clause(self, ev: Event | State, wh: str | None = None) -> Rendered:
        """Render a clause. `wh` in {"agent", "obj", "place"} replaces that constituent by a question word."""
        out = Rendered()
        subj = Rendered()
        if wh == "agent":
            subj.add([self.w("WHO")], "wh")
        else:
            self.np(ev.agent, subj, key="agent")

        if isinstance(ev, State):
            pred = [self.w("COP")] if not ev.neg else self._verb("COP", True)
            comp = [self.w(ev.state)]
            parts = {"S": subj, "V": _r(pred), "O": _r(comp)}
            adjuncts: list[Rendered] = []
        else:
            parts = {"S": subj, "V": _r(self._verb(ev.verb, ev.neg))}
            o = Rendered()
            if ev.obj is not None:
                if wh == "obj":
                    o.add([self.w("WHAT")], "wh")
                    if self.g.obj_marker:
                        o.add([self.w("ACC")])
                else:
                    self.np(ev.obj, o, key="obj", obj=True)
            parts["O"] = o
            adjuncts = []
            if ev.place or wh == "place":
                p = Rendered()
                if wh == "place":
                    p.add([self.w("WHERE")], "wh")
                else:
                    self.place(ev.place, p, key="place")
                adjuncts.append(p)
            if ev.time:
                t = Rendered()
                self.pp("AT", [ev.time], t)
                adjuncts.append(t)

        order = self.g.order
        seq: list[Rendered]
        adj = adjuncts
        if order == "SVO":
            seq = [parts["S"], parts["V"], parts["O"], *adj]
        elif order == "SOV":
            seq = [parts["S"], *adj, parts["O"], parts["V"]]
        else:  # VSO
            seq = [parts["V"], parts["S"], parts["O"], *adj]
        if wh and self.g.wh_front:
            whpart = next(p for p in seq if "wh" in p.spans)
            wh_words = whpart.words[slice(*whpart.spans["wh"])]
            rest = Rendered()
            rest.words = [w for w in whpart.words if w not in wh_words]
            seq = [_r(wh_words, "wh")] + [rest if p is whpart else p for p in seq]
        for part in seq:
            base = len(out.words)
            out.words += part.words
            for k, (s, e) in part.spans.items():
                out.spans[k] = (base + s, base + e)
        if getattr(ev, "neg", False) and self.g.neg == "final":
            out.add([self.w("NEG")])
        return out

    def sentence(self, ev: Event | State, wh: str | None = None) -> Rendered:
        r = self.clause(ev, wh)
        r.add(["?" if wh else "."])
        return r

    def because(self, effect: Event | State, cause: Event | State) -> Rendered:
        a, b = self.clause(effect), self.clause(cause)
        out = Rendered()
        out.add(a.words)
        out.add([self.w("BECAUSE")])
        out.add(b.words)
        out.add(["."])
        return out


def _r(words: list[str], key: str | None = None) -> Rendered:
    r = Rendered()
    r.add(words, key)
    return r


def join(words: list[str]) -> str:
    return " ".join(words)


def char_span(words: list[str], span: tuple[int, int]) -> tuple[int, str]:
    """Character offset and text of a word span in `join(words)`."""
    s, e = span
    start = sum(len(w) + 1 for w in words[:s])
    return start, " ".join(words[s:e])


# --------------------------------------------------------------------------------------
# Sampling latent material
# --------------------------------------------------------------------------------------

class Sampler:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def agent(self, allow_adj: bool = True) -> NP:
        r = self.rng
        if r.random() < 0.5:
            return NP(r.choice(NAMES), name=True)
        adjs = (r.choice(PERSON_ADJS),) if allow_adj and r.random() < 0.4 else ()
        return NP(r.choice(NOUNS["person"]), adjs)

    def obj_for(self, verb: str, n_adj: int | None = None) -> NP:
        r = self.rng
        cat = r.choice(VERBS[verb][1])
        head = r.choice(NOUNS[cat])
        if n_adj is None:
            n_adj = r.choice([0, 1, 1, 2])
        adjs: list[str] = []
        if cat == "person":
            if n_adj:
                adjs = [r.choice(PERSON_ADJS)]
        else:
            pools = [SIZES, COLOURS] if cat not in ("food", "drink") else [SIZES]
            for pool in pools[:n_adj]:
                adjs.append(r.choice(pool))
        return NP(head, tuple(adjs))

    def event(self, verb: str | None = None, p_place: float = 0.5, p_time: float = 0.3,
              neg: bool = False) -> Event:
        r = self.rng
        verb = verb or r.choice(TRANSITIVE + TRANSITIVE + INTRANSITIVE)
        obj = self.obj_for(verb) if VERBS[verb][1] else None
        place = r.choice(PLACES) if r.random() < p_place else None
        time = r.choice(DIGITS) if r.random() < p_time else None
        return Event(self.agent(), verb, obj, place, time, neg)


# --------------------------------------------------------------------------------------
# NLI
# --------------------------------------------------------------------------------------

NLI_LABELS = ["entailment", "neutral", "contradiction"]


def _modifiers(ev: Event) -> list[str]:
    mods = []
    if ev.agent.adjs:
        mods.append("agent_adj")
    if ev.obj is not None:
        mods += [f"obj_adj{i}" for i in range(len(ev.obj.adjs))]
    if ev.place:
        mods.append("place")
    if ev.time:
        mods.append("time")
    return mods


def _drop(ev: Event, mods: list[str]) -> Event:
    agent, obj = ev.agent, ev.obj
    if "agent_adj" in mods:
        agent = replace(agent, adjs=())
    if obj is not None:
        keep = tuple(a for i, a in enumerate(obj.adjs) if f"obj_adj{i}" not in mods)
        obj = replace(obj, adjs=keep)
    return replace(ev, agent=agent, obj=obj, place=None if "place" in mods else ev.place,
                   time=None if "time" in mods else ev.time)


def _free_adj_pool(obj: NP | None) -> list[str] | None:
    """An adjective pool the object has no adjective from yet (None: it can take no more)."""
    if obj is None or obj.head in NOUNS["person"] or len(obj.adjs) >= 2:
        return None
    pools = [SIZES] if _category(obj.head) in ("food", "drink") else [SIZES, COLOURS]
    return next((p for p in pools if not set(obj.adjs) & set(p)), None)


def _additions(prem: Event) -> list[str]:
    """Modifiers the premise lacks and a hypothesis could add (each makes the event more specific)."""
    ops = [m for m in ("place", "time") if getattr(prem, m) is None]
    return ops + (["obj_adj"] if _free_adj_pool(prem.obj) else [])


def _add(rng: random.Random, ev: Event, op: str) -> Event:
    if op == "place":
        return replace(ev, place=rng.choice(PLACES))
    if op == "time":
        return replace(ev, time=rng.choice(DIGITS))
    pool = _free_adj_pool(ev.obj)
    return replace(ev, obj=replace(ev.obj, adjs=ev.obj.adjs + (rng.choice(pool),)))


def _swap(rng: random.Random, prem: Event, base: Event, op: str) -> Event:
    """Change what happened: another verb, another object, or agent and object exchanged."""
    if op == "role":
        return replace(base, agent=base.obj, obj=base.agent)
    cat = _category(prem.obj.head)
    if op == "verb":
        verbs = [v for v in TRANSITIVE if v != prem.verb and cat in VERBS[v][1]]
        return replace(base, verb=rng.choice(verbs))
    head = rng.choice([n for n in NOUNS[cat] if n != prem.obj.head])
    adjs = base.obj.adjs if cat != "person" else ()
    return replace(base, obj=NP(head, adjs))


NEGATED_PREMISES = 0.25  # share of NLI premises that are negated (0.5 is not learnt in 600 steps)


def nli_latent(rng: random.Random, label: int) -> tuple[Event, Event]:
    """One latent NLI pair whose label needs composition, not word identities (docs/world.md).

    A share ``NEGATED_PREMISES`` of the premises is negated, and negation reverses monotonicity: a positive premise
    entails a hypothesis with modifiers dropped ("A eats the red apple" |= "A eats the apple"), a
    negated one entails a hypothesis with a modifier added ("A never eats the apple" |= "A never
    eats the red apple"). Neutral goes the other way, or changes the verb, the object, or who did
    what to whom (agent and object exchanged: the same words in another order). Contradiction
    flips the polarity of a hypothesis the premise is at least as specific as (positive premise)
    or at most as specific as (negated premise). So neither the negation word, nor the length
    difference, nor the words shared decide a label alone."""
    s = Sampler(rng)
    neg = rng.random() < NEGATED_PREMISES
    while True:
        prem = s.event(rng.choice(TRANSITIVE), p_place=0.6, p_time=0.4)
        if _modifiers(prem) and _additions(prem):
            break
    mods = _modifiers(prem)

    def weaker(at_least: int) -> Event:
        return _drop(prem, rng.sample(mods, rng.randint(at_least, len(mods))))

    def stronger(at_least: int) -> Event:
        adds = _additions(prem)
        ev = prem
        for op in rng.sample(adds, rng.randint(at_least, len(adds))):
            ev = _add(rng, ev, op)
        return ev

    exchangeable = prem.obj.head in NOUNS["person"] and prem.obj.head != prem.agent.head
    swaps = ["verb", "object"] + (["role", "role"] if exchangeable else [])
    if label == 0:  # entailment: the same polarity, less specific (positive) / more specific (negated)
        hyp = stronger(1) if neg else weaker(1)
    elif label == 2:  # contradiction: the other polarity (below), of something the premise settles
        hyp = stronger(0) if neg else weaker(0)
    else:  # neutral: the same polarity, the wrong direction of specificity, or another event
        op = rng.choice(["specificity", *swaps])
        if op == "specificity":
            hyp = weaker(1) if neg else stronger(1)
        else:
            base = _drop(prem, rng.sample(mods, rng.randint(0, len(mods))))
            hyp = _swap(rng, prem, base, op)
    return replace(prem, neg=neg), replace(hyp, neg=neg != (label == 2))


def _category(noun: str) -> str:
    return next(c for c, ns in NOUNS.items() if noun in ns)


# --------------------------------------------------------------------------------------
# COPA
# --------------------------------------------------------------------------------------

def _copa_rules():
    """(cause tag, effect tag, cause builder, effect builder); builders map (sampler, agent)
    to an Event or a State."""

    def st(name):
        return lambda s, a: State(a, name)

    def ev(verb, place=None, head=None):
        def make(s: Sampler, a: NP) -> Event:
            obj = None
            if VERBS[verb][1]:
                obj = NP(head) if head else s.obj_for(verb)
            return Event(a, verb, obj, place)
        return make

    return [
        ("hungry", "eat", st("hungry"), ev("eat")),
        ("thirsty", "drink", st("thirsty"), ev("drink")),
        ("cold", "wear", st("cold"), ev("wear")),
        ("tired", "sleep", st("tired"), ev("sleep", "house")),
        ("sick", "visit", st("sick"), ev("visit", head="doctor")),
        ("bored", "read", st("bored"), ev("read")),
        ("lose", "sad", ev("lose"), st("sad")),
        ("find", "happy", ev("find"), st("happy")),
        ("run", "tired", ev("run", "park"), st("tired")),
        ("walk", "wet", ev("walk", "river"), st("wet")),
        ("eat", "full", ev("eat"), st("full")),
        ("late", "run", st("late"), ev("run", "school")),
    ]


COPA_RULES = _copa_rules()
COPA_QUESTIONS = ["cause", "effect"]


def copa_latent(rng: random.Random, label: int, question: str):
    """Premise, choice1, choice2 (latent); the right alternative sits at index `label`.
    The wrong one comes from a rule that shares no cause or effect with the right one."""
    s = Sampler(rng)
    agent = s.agent(allow_adj=False)
    ctag, etag, cause, effect = rng.choice(COPA_RULES)
    others = [r for r in COPA_RULES if {r[0], r[1]}.isdisjoint({ctag, etag})]
    _, _, ocause, oeffect = rng.choice(others)
    if question == "effect":
        premise, right, wrong = cause(s, agent), effect(s, agent), oeffect(s, agent)
    else:
        premise, right, wrong = effect(s, agent), cause(s, agent), ocause(s, agent)
    choices = [right, wrong] if label == 0 else [wrong, right]
    return premise, choices[0], choices[1]


# --------------------------------------------------------------------------------------
# QA
# --------------------------------------------------------------------------------------

# How many events a QA story tells (task version 2, world v3): one. Version 1 told 3-5 (`qa_latent` at commit
# 64d8afd). On v3, `standard` learnt version 1 to an English F1 of 26.8 in 3,600 steps, below the 31.6 of
# guessing the asked kind of constituent from a random sentence of the story; two-event stories gave 21.6 at
# 600 steps (that guess: 53.3), and a one-event story 70.4: docs/findings.md, "QA on world v3".
QA_STORY_EVENTS = (1, 1)


def qa_latent(rng: random.Random):
    """A story (`QA_STORY_EVENTS` events with distinct agents) and a who/what/where question about one of them."""
    s = Sampler(rng)
    n = rng.randint(*QA_STORY_EVENTS)
    names = rng.sample(NAMES, n)
    events = []
    for name in names:
        verb = rng.choice(TRANSITIVE)
        agent = NP(name, name=True) if rng.random() < 0.7 else NP(rng.choice(NOUNS["person"]), ())
        obj = s.obj_for(verb)
        events.append(Event(agent, verb, obj, rng.choice(PLACES), None))
    # agents must be distinct surface-wise for "who" questions to have one answer
    q = rng.randrange(n)
    target = events[q]
    kinds = ["obj", "place"]
    heads = [e.agent.head for e in events]
    if heads.count(target.agent.head) == 1:
        kinds.append("agent")
    wh = rng.choice(kinds)
    if wh == "agent" and sum(1 for e in events if (e.verb, e.obj) == (target.verb, target.obj)) > 1:
        wh = "obj"
    return events, q, wh


# --------------------------------------------------------------------------------------
# Pretraining documents
# --------------------------------------------------------------------------------------

# event verb -> (state if it happened, negated?), (state if it did not, negated?)
CONSEQUENCES = {
    "eat": (("full", False), ("hungry", False)),
    "drink": (("thirsty", True), ("thirsty", False)),
    "wear": (("cold", True), ("cold", False)),
    "find": (("happy", False), ("sad", False)),
    "lose": (("sad", False), ("happy", False)),
}


def consequence_pair(rng: random.Random, lang: Language, sampler: "Sampler", note=lambda clauses: None) -> list[str]:
    """An event, negated half the time, then the state its polarity implies ("Anna never eats the bread .
    Anna is hungry ."): the state word is predictable only from the first sentence's polarity."""
    verb = rng.choice(sorted(CONSEQUENCES))
    neg = rng.random() < 0.5
    agent = replace(sampler.agent(), adjs=())
    event = replace(sampler.event(verb, p_place=0.3, p_time=0.2), agent=agent, neg=neg)
    state, state_neg = CONSEQUENCES[verb][1 if neg else 0]
    note([event])
    note([State(agent, state, state_neg)])
    return lang.sentence(event).words + lang.sentence(State(agent, state, state_neg)).words


def corpus_document(rng: random.Random, lang: Language, n_sent: int = 5, consequences: float = 0.0,
                    record: list | None = None) -> str:
    """A monolingual "document": a cast and a setting, a few events, states and causes; with probability
    ``consequences`` a consequence pair is appended (0, the shipped world: no extra random draw at all).

    ``record``, when given, receives the document's latent clauses, one list per sentence (questions give an
    empty list: they assert nothing); recording draws no random number, so the text is the same either way."""
    s = Sampler(rng)
    note = record.append if record is not None else (lambda clauses: None)
    cast = [s.agent() for _ in range(2)]
    place = rng.choice(PLACES)
    sents: list[list[str]] = []
    for _ in range(n_sent):
        a = rng.choice(cast)
        x = rng.random()
        if x < 0.45:
            ev = replace(s.event(p_place=0.5), agent=a, neg=rng.random() < 0.2)
            if ev.place:
                ev = replace(ev, place=place if rng.random() < 0.6 else ev.place)
            sents.append(lang.sentence(ev).words)
            note([ev])
        elif x < 0.6:
            st = State(a, rng.choice(STATES), rng.random() < 0.2)
            sents.append(lang.sentence(st).words)
            note([st])
        elif x < 0.85:
            _, _, cause, effect = rng.choice(COPA_RULES)
            a2 = replace(a, adjs=())
            c, e = cause(s, a2), effect(s, a2)
            if rng.random() < 0.5:
                sents.append(lang.because(e, c).words)
                note([e, c])
            else:
                sents.append(lang.sentence(c).words + lang.sentence(e).words)
                note([c])
                note([e])
        else:
            ev = s.event(rng.choice(TRANSITIVE), p_place=1.0, p_time=0.0)
            sents.append(lang.sentence(ev, wh=rng.choice(["agent", "obj", "place"])).words)
            note([])
    if consequences and rng.random() < consequences:
        sents.append(consequence_pair(rng, lang, Sampler(rng), note))
    return " ".join(join(w) for w in sents)


# --------------------------------------------------------------------------------------
# The document summary: a language-free target for the first token (world v3)
# --------------------------------------------------------------------------------------

SUMMARY_WORDS = [c for c in content_concepts() if c not in FUNCTION] + NAMES
SUMMARY_PARTS = ("first+", "first-", "rest+", "rest-", "first agent", "rest agent")
_SUMMARY_INDEX = {w: i for i, w in enumerate(SUMMARY_WORDS)}
SUMMARY_SIZE = len(SUMMARY_PARTS) * len(SUMMARY_WORDS)


def summary_target(sentences: list[list]) -> list[int]:
    """The active outputs of a document's summary (what `corpus_document(record=...)` noted), language-free:
    for the first sentence and for the rest, which words are asserted and which denied (a clause's
    polarity covers its verb or state, its object with its adjectives, and its place), and who acts (the
    agent with its adjectives). Index = part * len(SUMMARY_WORDS) + word."""
    n = len(SUMMARY_WORDS)
    active: set[int] = set()
    for i, clauses in enumerate(sentences):
        where = 0 if i == 0 else 1
        for cl in clauses:
            said = [cl.state] if isinstance(cl, State) else [cl.verb]
            if isinstance(cl, Event):
                if cl.obj is not None:
                    said += [cl.obj.head, *cl.obj.adjs]
                if cl.place:
                    said.append(cl.place)
            polarity = 2 * where + (1 if cl.neg else 0)
            agent = (cl.agent.head, *cl.agent.adjs)
            active.update(polarity * n + _SUMMARY_INDEX[w] for w in said)
            active.update((4 + where) * n + _SUMMARY_INDEX[w] for w in agent)
    return sorted(active)
