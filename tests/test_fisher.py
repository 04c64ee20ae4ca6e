"""Fisher estimators: exact equals an independent one-by-one loop; batch and official equal their definitions."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from unfreeze_core.fisher import fisher_scores  # noqa: E402
from unfreeze_fisher import Batch, Exact, Official, one_by_one  # noqa: E402


class HeadTask:
    """A stand-in task: which logits ŷ is drawn from, per head kind."""

    def __init__(self, kind):
        self.kind = kind

    def output_distributions(self, outputs):
        if self.kind == "qa":
            return [outputs.start_logits, outputs.end_logits]
        return [outputs.logits]


class IA3Backend:
    """An (IA)³ backend as an outside plugin writes it from docs/plugins.md (adapters' IA3Config)."""

    def __new__(cls, *args, **kwargs):
        from unfreeze_core import AdapterBackend, TaskAdapterBackend

        class IA3(TaskAdapterBackend, AdapterBackend):
            gating = False

            def setup(self, model, *, train_language, languages, model_name):
                from adapters import IA3Config

                model.add_adapter(self.adapter_name, config=IA3Config(use_gating=self.gating))
                model.train_adapter(self.adapter_name)
                model.active_adapters = self.adapter_name

        return IA3(*args, **kwargs)


class DoRABackend:
    """LoRA with DoRA: a module PerExampleSquaredNorms cannot decompose (exact falls back to a loop)."""

    def __new__(cls, *args, **kwargs):
        from unfreeze_core import AdapterBackend, TaskAdapterBackend

        class DoRA(TaskAdapterBackend, AdapterBackend):
            def setup(self, model, *, train_language, languages, model_name):
                from adapters import LoRAConfig

                model.add_adapter(self.adapter_name, config=LoRAConfig(r=4, alpha=4, use_dora=True))
                model.train_adapter(self.adapter_name)
                model.active_adapters = self.adapter_name

        return DoRA(*args, **kwargs)


def tiny(adapter: str, kind: str = "classification", seed: int = 0, hidden: int = 32):
    from adapters import XLMRobertaAdapterModel
    from transformers import XLMRobertaConfig

    torch.manual_seed(seed)
    config = XLMRobertaConfig(vocab_size=60, hidden_size=hidden, num_hidden_layers=3, num_attention_heads=2,
                              intermediate_size=2 * hidden, max_position_embeddings=40, type_vocab_size=1,
                              pad_token_id=1)
    model = XLMRobertaAdapterModel(config)
    if kind == "qa":
        model.add_qa_head("task")
    elif kind == "mc":
        model.add_multiple_choice_head("task", num_choices=3)
    else:
        model.add_classification_head("task", num_labels=3)
    if adapter == "madx":
        from unfreeze_madx import MadX

        backend = MadX(MadX.Options(lang_adapters="fresh", reduction_factor=4))
    elif adapter.startswith("ia3"):
        backend = IA3Backend()
        backend.gating = adapter == "ia3-gated"
    elif adapter == "dora":
        backend = DoRABackend()
    else:
        from unfreeze_lora import LoRA

        backend = LoRA()
    backend.setup(model, train_language="en", languages=["en"], model_name="tiny")
    with torch.no_grad():  # non-trivial adapter weights (LoRA's B and the adapters' up start at zero)
        for params in backend.units(model).values():
            for _, p in params:
                p.normal_(0, 0.3)
    return model, backend


def batches(kind: str, n: int = 2, size: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    shape = (size, 3, 12) if kind == "mc" else (size, 12)
    out = []
    for _ in range(n):
        ids = torch.randint(3, 60, shape, generator=g)
        mask = torch.ones(shape, dtype=torch.long)
        lengths = torch.randint(5, 13, shape[:-1], generator=g)
        mask[torch.arange(12).expand(shape) >= lengths.unsqueeze(-1)] = 0  # padding of varied length
        ids[mask == 0] = 1
        out.append({"input_ids": ids, "attention_mask": mask, "labels": torch.zeros(size, dtype=torch.long)})
    return out


def train_only_units(model, backend) -> dict:
    """Every unit requires grad, nothing else; returns the units."""
    units = backend.units(model)
    for p in model.parameters():
        p.requires_grad_(False)
    for params in units.values():
        for _, p in params:
            p.requires_grad_(True)
    return units


def independent_loop(model, backend, task, data, seed):
    """Eq. 1 one example at a time with plain autograd; ŷ drawn exactly as documented in docs/fisher.md."""
    model = model.eval()
    units = train_only_units(model, backend)
    g = torch.Generator().manual_seed(seed)
    totals, count = {u: 0.0 for u in units}, 0
    for batch in data:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        with torch.no_grad():
            heads = task.output_distributions(model(**inputs))
        ys = [torch.multinomial(torch.softmax(h.float(), -1), 1, generator=g).squeeze(1) for h in heads]
        for i in range(heads[0].shape[0]):
            out = task.output_distributions(model(**{k: v[i:i + 1] for k, v in inputs.items()}))
            logp = sum(torch.log_softmax(h, -1)[0, y[i]] for h, y in zip(out, ys))
            model.zero_grad()
            logp.backward()
            for u, params in units.items():
                totals[u] += sum(float(p.grad.double().pow(2).sum()) for _, p in params)
            count += 1
    return {u: t / count for u, t in totals.items()}


def assert_exact_equals_loop(model, backend, task, data, seed):
    """``exact`` (batched) and the independent one-by-one loop agree to 1e-5 relative on every unit."""
    exact = fisher_scores(model, backend, task, Exact(), data, torch.Generator().manual_seed(seed))
    loop = independent_loop(model, backend, task, data, seed=seed)
    assert set(exact) == set(loop) == {0, 1, 2}
    for u in loop:
        assert loop[u] > 0
        assert abs(exact[u] - loop[u]) / loop[u] < 1e-5, (u, exact[u], loop[u])


@pytest.mark.parametrize("adapter,kind", [("madx", "classification"), ("lora", "classification"),
                                          ("madx", "qa"), ("lora", "mc")])
def test_exact_equals_one_by_one_loop(adapter, kind):
    model, backend = tiny(adapter, kind)
    task, data = HeadTask(kind), batches(kind)
    assert_exact_equals_loop(model, backend, task, data, seed=5)


@pytest.mark.parametrize("adapter,kind", [("ia3", "classification"), ("ia3", "mc"), ("ia3-gated", "qa"),
                                          ("dora", "qa")])
def test_exact_handles_ia3_natively_and_other_modules_by_a_loop(adapter, kind):
    from unfreeze_core.fisher import PerExampleSquaredNorms

    model, backend = tiny(adapter, kind)
    with PerExampleSquaredNorms(backend.unit_modules(model), fallback=True) as capture:
        # (IA)³ is decomposed in the batched backward; DoRA's modules go to the per-example loop
        assert bool(capture.fallback) == (adapter == "dora")
        assert adapter != "ia3-gated" or any(use.weight is not None for uses in capture.uses.values() for use in uses)
    task, data = HeadTask(kind), batches(kind)
    assert_exact_equals_loop(model, backend, task, data, seed=5)


def test_exact_takes_the_gram_branch_and_equals_the_loop(monkeypatch):
    """Short sequences against wide layers: ||Σ_t g_t a_tᵀ||² through Gram matrices, checked against the loop."""
    import unfreeze_core.fisher.norms as fisher

    calls = {"gram": 0, "outer": 0}
    for name in ("gram", "outer"):
        real = getattr(fisher, f"{name}_sq_norms")
        monkeypatch.setattr(fisher, f"{name}_sq_norms",
                            lambda a, g, _real=real, _name=name: calls.__setitem__(_name, calls[_name] + 1) or _real(a, g))
    model, backend = tiny("madx", hidden=64)  # reduction 4: 64 -> 16 -> 64; 12 tokens: 12·80 < 64·16
    task, data = HeadTask("classification"), batches("classification")
    assert fisher.uses_gram(12, 64, 16)
    assert_exact_equals_loop(model, backend, task, data, seed=2)
    assert calls["gram"] > 0 and calls["outer"] == 0


def test_both_norm_branches_equal_explicit_per_example_gradients():
    from unfreeze_core.fisher import gram_sq_norms, outer_sq_norms

    g_ = torch.Generator().manual_seed(0)
    a, g = torch.randn(3, 5, 7, generator=g_, dtype=torch.float64), torch.randn(3, 5, 4, generator=g_, dtype=torch.float64)
    want = torch.stack([sum(torch.outer(g[i, t], a[i, t]) for t in range(5)).pow(2).sum() for i in range(3)])
    assert torch.allclose(gram_sq_norms(a, g), want) and torch.allclose(outer_sq_norms(a, g), want)


def test_exact_matches_the_plugin_reference_loop_in_place():
    model, backend = tiny("lora")
    task, data = HeadTask("classification"), batches("classification")
    exact = fisher_scores(model, backend, task, Exact(), data, torch.Generator().manual_seed(1), in_place=True)
    with torch.enable_grad():
        from unfreeze_core.fisher import estimation_mode

        units = backend.units(model)
        with estimation_mode(model, units):
            ref = one_by_one(model, units=units, task=task, batches=data, generator=torch.Generator().manual_seed(1))
    for u in ref:
        assert abs(exact[u] - ref[u]) / ref[u] < 1e-5


def _literal(model, backend, task, data, *, sample, seed, accumulate):
    """Appendix D / the released loop, literally: .backward() on the batch loss, p.grad² / |b|."""
    import torch.nn.functional as F

    model.eval()
    units = train_only_units(model, backend)
    g = torch.Generator().manual_seed(seed)
    scores = {u: 0.0 for u in units}
    for batch in data:
        model.zero_grad()
        heads = task.output_distributions(model(**{k: v for k, v in batch.items() if k != "labels"}))
        if sample:
            ys = [torch.multinomial(torch.softmax(h.float(), -1), 1, generator=g).squeeze(1) for h in heads]
            loss = sum(F.nll_loss(F.log_softmax(h, -1), y) for h, y in zip(heads, ys))
        else:
            output = torch.cat(heads, 0)
            loss = F.nll_loss(F.log_softmax(output, dim=1), output.argmax(1))
        loss.backward()
        for u, params in units.items():
            scores[u] += sum(float((p.grad ** 2 / heads[0].shape[0]).sum()) for _, p in params)
    return scores if accumulate else {u: s / len(data) for u, s in scores.items()}


@pytest.mark.parametrize("adapter,kind", [("madx", "classification"), ("lora", "qa")])
def test_batch_and_official_equal_their_definitions(adapter, kind):
    model, backend = tiny(adapter, kind)
    task, data = HeadTask(kind), batches(kind)
    batch = fisher_scores(model, backend, task, Batch(), data, torch.Generator().manual_seed(3))
    official = fisher_scores(model, backend, task, Official(), data, torch.Generator().manual_seed(3))
    want_batch = _literal(model, backend, task, data, sample=True, seed=3, accumulate=False)
    want_official = _literal(model, backend, task, data, sample=False, seed=3, accumulate=True)
    for u in want_batch:
        assert batch[u] == pytest.approx(want_batch[u], rel=1e-5)
        assert official[u] == pytest.approx(want_official[u], rel=1e-5)


def test_estimation_leaves_the_model_as_it_was():
    model, backend = tiny("madx")
    model.train()
    units = backend.units(model)
    units[0][0][1].requires_grad_(True)
    marker = torch.ones_like(units[0][0][1])
    units[0][0][1].grad = marker
    flags = [p.requires_grad for p in model.parameters()]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for in_place in (True, False):
        fisher_scores(model, backend, HeadTask("classification"), Batch(), batches("classification", n=1),
                      torch.Generator().manual_seed(0), in_place=in_place)
        assert model.training and all(m.training for m in model.modules())
        assert [p.requires_grad for p in model.parameters()] == flags
        assert units[0][0][1].grad is marker
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_sampling_uses_only_the_given_generator():
    model, backend = tiny("madx")
    state = torch.get_rng_state()
    fisher_scores(model, backend, HeadTask("classification"), Exact(), batches("classification", n=1),
                  torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.get_rng_state())


def test_unsupported_trainable_module_is_an_error():
    from unfreeze_core.fisher import PerExampleSquaredNorms

    norm = torch.nn.LayerNorm(4)
    with pytest.raises(NotImplementedError, match="LayerNorm"):
        with PerExampleSquaredNorms({0: [norm]}):
            pass
    with PerExampleSquaredNorms({0: [norm]}, fallback=True) as capture:  # exact's route: a loop for these
        assert capture.fallback == {0: [norm.weight, norm.bias]}


def test_stop_when_ranked_reads_only_the_batches_it_needs():
    from unfreeze_core.fisher import StopWhenRanked

    model, backend = tiny("madx")
    task, data = HeadTask("classification"), batches("classification", n=6, size=8)
    full = fisher_scores(model, backend, task, Exact(), data, torch.Generator().manual_seed(4))
    ranked = sorted(full, key=full.get)
    easy = StopWhenRanked(Exact(), [ranked[0], ranked[-1]], z=0.1, min_batches=2)
    scores = fisher_scores(model, backend, task, easy, data, torch.Generator().manual_seed(4))
    assert 2 <= easy.batches_used < 6
    prefix = fisher_scores(model, backend, task, Exact(), data[:easy.batches_used], torch.Generator().manual_seed(4))
    assert scores == pytest.approx(prefix, rel=1e-9)
    never = StopWhenRanked(Exact(), list(full), z=0, min_batches=2)
    assert fisher_scores(model, backend, task, never, data, torch.Generator().manual_seed(4)) == pytest.approx(full)
    assert never.batches_used == 6


def test_the_engines_usage_example_runs():
    """The runnable example in ``unfreeze_core.fisher.capture``'s docstring (also in docs/fisher.md)."""
    import doctest

    import unfreeze_core.fisher.capture as capture

    result = doctest.testmod(capture, raise_on_error=False)
    assert result.attempted >= 8 and result.failed == 0


def analytic_fisher(model, backend, task, data):
    """Eq. 1 with the expectation over ŷ taken exactly: per example, Σ_y p(y|x)·||∇ log p(y|x)||² over every
    class y (one backward per example and class), averaged over examples; also the Monte-Carlo variance of
    one draw per example, per unit, for the standard error of a mean over seeds."""
    model = model.eval()
    units = train_only_units(model, backend)
    params = {u: [p for _, p in ps] for u, ps in units.items()}
    mean, var, count = {u: 0.0 for u in units}, {u: 0.0 for u in units}, 0
    for batch in data:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        for i in range(inputs["input_ids"].shape[0]):
            (logits,) = task.output_distributions(model(**{k: v[i:i + 1] for k, v in inputs.items()}))
            logp = torch.log_softmax(logits.double(), -1)[0]
            values = {u: [] for u in units}
            for y in range(logp.shape[0]):
                grads = torch.autograd.grad(logp[y], [p for ps in params.values() for p in ps], retain_graph=True)
                it = iter(grads)
                for u, ps in params.items():
                    values[u].append(sum(float(next(it).double().pow(2).sum()) for _ in ps))
            p = logp.exp().detach()
            for u in units:
                v = torch.tensor(values[u], dtype=torch.float64)
                first = float((p * v).sum())
                mean[u] += first
                var[u] += float((p * v * v).sum()) - first ** 2
            count += 1
    return {u: m / count for u, m in mean.items()}, {u: v / count ** 2 for u, v in var.items()}


def test_exact_averaged_over_sampling_seeds_is_the_analytic_fisher_trace():
    """E_ŷ of ``exact`` is Σ_y p(y|x)·||∇ log p(y|x)||²: the mean over 300 sampling seeds lies within 4.5
    standard errors (computed from the exact per-class values) of it, on a 3-class model whose head is
    sharpened so that p(y|x) is far from uniform."""
    model, backend = tiny("madx", "classification", seed=1)
    with torch.no_grad():  # p(y|x) far from uniform and varying with x, so which ŷ are drawn matters
        model.heads["task"][-1].weight.mul_(3.0)
        model.heads["task"][-1].bias.copy_(torch.tensor([1.0, 0.0, -1.0]))
    task, data = HeadTask("classification"), batches("classification", n=2, size=4, seed=1)
    want, var = analytic_fisher(model, backend, task, data)
    seeds = 300
    runs = [fisher_scores(model, backend, task, Exact(), data, torch.Generator().manual_seed(s)) for s in range(seeds)]
    argmax = fisher_scores(model, backend, task, Exact(Exact.Options(labels="argmax")), data)
    stderr = {u: (var[u] / seeds) ** 0.5 for u in want}
    for u in want:
        mean = sum(r[u] for r in runs) / seeds
        assert stderr[u] < 0.03 * want[u], "too few seeds for the test to see a wrong expectation"
        assert abs(mean - want[u]) < 4.5 * stderr[u], (u, mean, want[u], stderr[u])
    assert any(abs(argmax[u] - want[u]) > 10 * stderr[u] for u in want)  # another label rule is told apart
