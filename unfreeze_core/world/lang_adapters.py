"""MAD-X step 1: one `seq_bn_inv` language adapter per language (reduction factor 2), trained
with MLM on that language's text while the pretrained encoder and its MLM head stay frozen."""

from __future__ import annotations

import random
import time
from pathlib import Path

from .pretrain import batches, mask_tokens, warmup_cosine

REDUCTION_FACTOR = 2


def train_language_adapter(model_dir: Path, lang: str, encoded: list[list[int]], tokenizer, steps: int,
                           lr: float, batch_size: int, seed: int, out_dir: Path, log=print) -> float:
    """Train adapter `lang` on the frozen encoder at `model_dir`; save it to `out_dir`."""
    import adapters
    import torch
    from adapters import SeqBnInvConfig
    from transformers import XLMRobertaForMaskedLM

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = XLMRobertaForMaskedLM.from_pretrained(str(model_dir))
    adapters.init(model)
    model.add_adapter(lang, config=SeqBnInvConfig(reduction_factor=REDUCTION_FACTOR))
    model.train_adapter(lang)
    for p in model.lm_head.parameters():  # train_adapter leaves the static MLM head trainable
        p.requires_grad = False
    model.set_active_adapters(lang)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, warm, steps))
    it = batches(encoded, batch_size, tokenizer.pad_token_id, tokenizer.eos_token_id, random.Random(seed))
    model.train()
    t0, run_loss = time.time(), None
    for step in range(steps):
        ids, attn, special = next(it)
        inputs, labels = mask_tokens(ids, special, tokenizer.mask_token_id, len(tokenizer), gen)
        loss = model(input_ids=inputs, attention_mask=attn, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        run_loss = loss.item() if run_loss is None else 0.95 * run_loss + 0.05 * loss.item()
    log(f"  adapter {lang}: {steps} steps, loss {run_loss:.3f} ({time.time() - t0:.0f}s)")
    out_dir.mkdir(parents=True, exist_ok=True)  # save_adapter creates only the last folder
    model.save_adapter(str(out_dir), lang, with_head=False)
    return run_loss
