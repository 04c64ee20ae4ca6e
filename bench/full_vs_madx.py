"""Full fine-tuning (``--adapter full``) against MAD-X (``--adapter madx``): step time and memory, side by side
in one process.

Both models are built by the run's own ``prepare_model`` (same shapes, same data, same batch), with every unit
trainable (``standard``) or only the top unit (the first phase of GU), AdamW over the head and those units
(``Unfreezer.param_groups`` puts every unit in the optimizer; AdamW skips the frozen ones). Steps alternate
between the two (the order swapped every round), so machine load hits both alike; the ratio is the result.
A step is forward, backward, clipping at 1.0, AdamW step and zero_grad.

Memory, in the same process:
- ``weights``: bytes of every parameter of the model (MAD-X adds its adapters to the same base);
- ``grads + AdamW``: the trainable parameters' gradients and two AdamW moments (fp32: 3 x 4 bytes each);
- ``activations``: bytes of the tensors autograd saves for backward in one step (``saved_tensors_hooks``,
  each storage counted once) on CPU; on a GPU the step's peak ``torch.cuda.max_memory_allocated`` above
  the memory allocated before it.

    python bench/full_vs_madx.py                                   # world model, batch 32, CPU, 1 thread
    python bench/full_vs_madx.py --size base --batch-size 4 --rounds 4   # XLM-R base shapes, random weights
    python bench/full_vs_madx.py --size base --batch-size 32 --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import bench_model, device_name, save_json

BACKENDS = ("full", "madx")


def build(size: str, adapter: str, scenario: str, batch_size: int, max_length: int, device):
    import torch

    torch.manual_seed(0)
    parts, prepared = bench_model(size, adapter, batch_size, max_length)
    model = prepared.model.to(device).train()
    units = sorted(prepared.units)
    trainable = units if scenario == "all units" else [units[-1]]
    for unit in trainable:
        for _, p in prepared.units[unit]:
            p.requires_grad_(True)
    params = prepared.head_params + [p for u in trainable for _, p in prepared.units[u]]
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    collate = parts.task.collate(prepared.tokenizer)
    batch = {k: v.to(device) for k, v in collate(prepared.train_data[:batch_size]).items()}
    return {"model": model, "optimizer": optimizer, "params": params, "batch": batch,
            "units": len(units), "trainable_units": len(trainable)}


def step(b) -> None:
    import torch

    loss = b["model"](**b["batch"]).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(b["params"], 1.0)
    b["optimizer"].step()
    b["optimizer"].zero_grad(set_to_none=True)


def saved_bytes(b) -> int:
    """Bytes autograd saves for backward in one forward of the batch (each storage once)."""
    import torch

    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = b["model"](**b["batch"]).loss
    loss.backward()
    b["optimizer"].zero_grad(set_to_none=True)
    params = {p.untyped_storage().data_ptr() for p in b["model"].parameters()}
    return sum(n for ptr, n in seen.items() if ptr not in params)  # weights are counted under weights


def cuda_peak(b) -> int:
    import torch

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step(b)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["world", "base"], default="world")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    import torch

    from unfreeze_core.runner import quiet_libraries

    quiet_libraries()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    result = {"device": device_name(), "size": args.size, "batch_size": args.batch_size,
              "max_length": args.max_length, "rounds": args.rounds, "scenarios": {}}
    for scenario in ("all units", "top unit only"):
        built = {name: build(args.size, name, scenario, args.batch_size, args.max_length, device)
                 for name in BACKENDS}
        times = {name: [] for name in BACKENDS}
        for r in range(args.warmup + args.rounds):
            for name in (BACKENDS if r % 2 == 0 else BACKENDS[::-1]):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                step(built[name])
                if device.type == "cuda":
                    torch.cuda.synchronize()
                if r >= args.warmup:
                    times[name].append(time.perf_counter() - start)
        rows = {}
        for name, b in built.items():
            weights = sum(p.numel() * p.element_size() for p in b["model"].parameters())
            trainable = sum(p.numel() for p in b["params"])
            activations = cuda_peak(b) if device.type == "cuda" else saved_bytes(b)
            rows[name] = {"units": b["units"], "trainable_units": b["trainable_units"],
                          "trainable_params": trainable, "weights_MB": weights / 2**20,
                          "grads_adamw_MB": trainable * 12 / 2**20,
                          ("step_peak_MB" if device.type == "cuda" else "activations_MB"): activations / 2**20,
                          "step_ms_median": 1000 * statistics.median(times[name])}
        rows["full / madx step time"] = rows["full"]["step_ms_median"] / rows["madx"]["step_ms_median"]
        result["scenarios"][scenario] = rows
        print(f"{scenario}: " + "; ".join(
            f"{n}: {r['trainable_params']:,} trainable, weights {r['weights_MB']:.1f} MB, grads+AdamW "
            f"{r['grads_adamw_MB']:.1f} MB, {'peak' if device.type == 'cuda' else 'activations'} "
            f"{r.get('step_peak_MB', r.get('activations_MB')):.1f} MB, step {r['step_ms_median']:.1f} ms"
            for n, r in rows.items() if isinstance(r, dict))
              + f"; full/madx step time {rows['full / madx step time']:.2f}")
    print(f"device: {result['device']}")
    save_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
