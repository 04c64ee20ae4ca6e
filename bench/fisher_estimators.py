"""Cost of the tr(F) estimators against the one-by-one loop, on the same batches (random weights).

    python bench/fisher_estimators.py                                   # CPU, small size
    python bench/fisher_estimators.py --device cuda --size base --dtype bf16   # XLM-R base shapes

Prints a markdown table (seconds for all batches) and the relative error of ``exact`` against the loop.
"""

from __future__ import annotations

import argparse
import copy
import time

from common import save_json

SIZES = {
    "small": dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, intermediate_size=256, vocab_size=1000),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 vocab_size=250002),
}


def build(size: str, adapter: str, device):
    import torch
    from adapters import XLMRobertaAdapterModel
    from transformers import XLMRobertaConfig

    torch.manual_seed(0)
    config = XLMRobertaConfig(max_position_embeddings=514, type_vocab_size=1, pad_token_id=1, **SIZES[size])
    model = XLMRobertaAdapterModel(config)
    model.add_classification_head("task", num_labels=3)
    if adapter == "madx":
        from unfreeze_madx import MadX

        backend = MadX(MadX.Options(lang_adapters="fresh"))
    elif adapter == "lora":
        from unfreeze_lora import LoRA

        backend = LoRA()
    else:  # ia3: decomposed by exact; dora: exact's per-example loop fallback
        from unfreeze_core import AdapterBackend, TaskAdapterBackend

        class Backend(TaskAdapterBackend, AdapterBackend):
            def setup(self, model, **_):
                from adapters import IA3Config, LoRAConfig

                config = IA3Config() if adapter == "ia3" else LoRAConfig(r=8, alpha=8, use_dora=True)
                model.add_adapter(self.adapter_name, config=config)
                model.train_adapter(self.adapter_name)
                model.active_adapters = self.adapter_name

        backend = Backend()
    backend.setup(model, train_language="en", languages=["en"], model_name="bench")
    with torch.no_grad():
        for params in backend.units(model).values():
            for _, p in params:
                p.normal_(0, 0.02)
    return model.to(device), backend


def make_batches(n, batch_size, seq_len, vocab, device):
    import torch

    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(n):
        ids = torch.randint(3, vocab, (batch_size, seq_len), generator=g)
        mask = torch.ones_like(ids)
        lengths = torch.randint(seq_len // 2, seq_len + 1, (batch_size,), generator=g)
        mask[torch.arange(seq_len).expand(batch_size, -1) >= lengths[:, None]] = 0
        ids[mask == 0] = 1
        out.append({"input_ids": ids.to(device), "attention_mask": mask.to(device)})
    return out


class Task:
    def output_distributions(self, outputs):
        return [outputs.logits]


def main(argv=None):
    import torch

    from unfreeze_core.fisher import estimation_mode, fisher_scores
    from unfreeze_fisher import Batch, Exact, Official, one_by_one

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--adapter", choices=["madx", "lora", "ia3", "dora"], default="madx")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--loop-batches", type=int, default=None,
                        help="batches for the one-by-one loop (default: all); its time is scaled to --batches")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads on CPU")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model, backend = build(args.size, args.adapter, device)
    data = make_batches(args.batches, args.batch_size, args.seq_len, model.config.vocab_size, device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16")
    task = Task()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def timed(fn):
        sync()
        start = time.perf_counter()
        result = fn()
        sync()
        return time.perf_counter() - start, result

    def estimate(estimator, in_place=True):
        with autocast:
            return fisher_scores(model, backend, task, estimator, data, torch.Generator(device).manual_seed(2),
                                 in_place=in_place)

    estimate(Exact())  # warm-up (kernels, allocator)
    rows = {}
    rows["deepcopy of the model"], _ = timed(lambda: copy.deepcopy(model))
    rows["batch (squared batch gradient)"], batch_values = timed(lambda: estimate(Batch()))
    rows["official (released scorer)"], _ = timed(lambda: estimate(Official()))
    rows["exact (per-example, one backward)"], exact = timed(lambda: estimate(Exact()))
    rows["exact on a deep copy"], _ = timed(lambda: estimate(Exact(), in_place=False))
    loop_n = args.loop_batches or args.batches

    def loop():
        units = backend.units(model)
        with autocast, torch.enable_grad(), estimation_mode(model, units):
            return one_by_one(model, units=units, task=task, batches=data[:loop_n],
                              generator=torch.Generator(device).manual_seed(2))

    loop_s, reference = timed(loop)
    rows[f"one-by-one loop ({loop_n} batches, scaled)" if loop_n != args.batches else "one-by-one loop"] = \
        loop_s * args.batches / loop_n
    error = None
    if loop_n == args.batches:
        error = max(abs(exact[u] - reference[u]) / reference[u] for u in reference)
    shape = f"{args.size}, {args.adapter}, {args.device}, {args.dtype}, {args.batches} batches of " \
            f"{args.batch_size}x{args.seq_len}, threads {torch.get_num_threads()}"
    print(f"\n{shape}\n\n| estimator | seconds | × batch |\n| --- | ---: | ---: |")
    base = rows["batch (squared batch gradient)"]
    for name, seconds in rows.items():
        print(f"| {name} | {seconds:.3f} | {seconds / base:.2f} |")
    if error is not None:
        print(f"\nmax relative error of exact against the loop: {error:.2e}")
    ratios = sorted(exact[u] / batch_values[u] for u in exact if batch_values[u] > 0)
    if ratios:
        print(f"exact / batch values: median {ratios[len(ratios) // 2]:.1f}× over units (|b|² = {args.batch_size ** 2})")
    save_json(args.json, {"setting": shape, "seconds": rows, "max_rel_error": error})


if __name__ == "__main__":
    main()
