"""MLM pretraining of the world's encoder with tied concept embeddings.

Every latent concept owns one *shared* embedding row; each single-token surface form of it, in
every language, reads that row plus `alpha` times its own row:

    E[token] = S[concept(token)] + alpha * O[token]     (tied tokens)
    E[token] = O[token]                                  (names, digits, word pieces, specials)

`alpha` is the world's difficulty knob: 0 = the languages share their word embeddings exactly,
larger = more language-specific embeddings and a larger transfer gap. The materialised matrix E
is both the input embedding and the MLM output layer (as in XLM-R); on export it is copied into
`word_embeddings.weight`, so a plain XLM-R checkpoint comes out.

MLM never reads the first token's output, so its upper-layer state (what a classification head reads) is
left to carry whatever the encoder puts there, language identity included (docs/findings.md, "Why whole
languages collapse"). Optional losses act on it and on the words' upper-layer states (world v3):

- ``summary``: from the first token's top-layer state a linear decoder predicts the document's language-free
  summary (`generator.summary_target`: what the first sentence and the rest assert and deny, and who
  acts), a multi-label loss averaged over the active outputs;
- ``given_new``: from every content word's top-layer state a linear decoder predicts whether the word is in
  the first sentence or in the rest, and whether the other side of the document has it too (given) or not
  (new) — the information structure of the text, at every token (`given_new_tags`);
- ``align_first``: each language's mean first-token state in a batch is pulled towards the batch's mean at
  every layer (the squared offset per dimension): sentence-level alignment designed in, as the tied rows
  design it in for words.

At 0 a loss draws no extra random number: with all of them 0 (and ``pairs`` 0) the v2 encoder comes out byte
for byte. The shipped world, v3, uses summary 0.75, given_new 0.25 and pairs 0.5 (`build.BuildConfig`).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from ..lang_adapters import warmup_cosine


@dataclass
class EncoderSize:
    layers: int = 8
    hidden: int = 64
    heads: int = 4
    intermediate: int = 256
    max_positions: int = 256


def make_config(vocab_size: int, size: EncoderSize, pad_id: int, bos_id: int, eos_id: int):
    from transformers import XLMRobertaConfig

    return XLMRobertaConfig(
        vocab_size=vocab_size, hidden_size=size.hidden, num_hidden_layers=size.layers,
        num_attention_heads=size.heads, intermediate_size=size.intermediate,
        max_position_embeddings=size.max_positions + pad_id + 1, type_vocab_size=1,
        pad_token_id=pad_id, bos_token_id=bos_id, eos_token_id=eos_id,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)


def mask_tokens(input_ids, special_mask, mask_id: int, vocab_size: int, gen, p: float = 0.15):
    """BERT masking (80% <mask>, 10% random, 10% kept); labels -100 where not predicted."""
    import torch

    labels = input_ids.clone()
    prob = torch.full(input_ids.shape, p)
    prob.masked_fill_(special_mask, 0.0)
    chosen = torch.bernoulli(prob, generator=gen).bool()
    labels[~chosen] = -100
    inputs = input_ids.clone()
    replace = torch.bernoulli(torch.full(input_ids.shape, 0.8), generator=gen).bool() & chosen
    inputs[replace] = mask_id
    rand = torch.bernoulli(torch.full(input_ids.shape, 0.5), generator=gen).bool() & chosen & ~replace
    inputs[rand] = torch.randint(5, vocab_size, input_ids.shape, generator=gen)[rand]
    return inputs, labels


def batches(encoded: list[list[int]], batch_size: int, pad_id: int, eos_id: int, rng: random.Random):
    """Endless shuffled, padded batches: (input_ids, attention_mask, special_mask)."""
    import torch

    order = list(range(len(encoded)))
    while True:
        rng.shuffle(order)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            seqs = [encoded[j] for j in order[i:i + batch_size]]
            n = max(map(len, seqs))
            ids = torch.full((len(seqs), n), pad_id, dtype=torch.long)
            for r, s in enumerate(seqs):
                ids[r, :len(s)] = torch.tensor(s)
            attn = ids != pad_id
            special = ~attn
            special[:, 0] = True
            special |= ids == eos_id
            yield ids, attn.long(), special, order[i:i + batch_size]


GIVEN_NEW = ("first given", "first new", "rest given", "rest new")


def given_new_tags(ids: list[int], content: set[int], stops: set[int]) -> list[int]:
    """Per token of one encoded document: the index in GIVEN_NEW of a content word (first sentence or rest,
    and whether the other side has the same word), -100 elsewhere. The first sentence ends at the first
    token of ``stops`` (the full stop and the question mark)."""
    end = next((i for i, t in enumerate(ids) if t in stops), len(ids))
    first = {t for t in ids[:end] if t in content}
    rest = {t for t in ids[end + 1:] if t in content}
    out = []
    for i, t in enumerate(ids):
        if t not in content:
            out.append(-100)
        elif i < end:
            out.append(0 if t in rest else 1)
        else:
            out.append(2 if t in first else 3)
    return out


def summary_loss(logits, active: list[list[int]]):
    """Multi-label loss of the summary decoder, summed over outputs and divided by the active ones."""
    import torch

    target = torch.zeros_like(logits)
    for row, idx in enumerate(active):
        target[row, idx] = 1.0
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="sum")
    return bce / target.sum().clamp(min=1.0)


def first_token_offset(hidden_states, lang):
    """Mean over layers and over the languages in the batch of the squared offset (per dimension) between
    a language's mean first-token state and the batch's."""
    import torch

    total = 0.0
    for h in hidden_states:
        first = h[:, 0]
        centre = first.mean(0)
        offsets = [first[lang == code].mean(0) - centre for code in torch.unique(lang)]
        total = total + torch.stack(offsets).pow(2).mean()
    return total / len(hidden_states)


def position_ids(input_ids, pad_id: int):
    mask = input_ids.ne(pad_id).int()
    return (mask.cumsum(1) * mask).long() + pad_id


def pretrain_encoder(encoded: list[list[int]], tied: dict[int, int], n_concepts: int, tokenizer,
                     size: EncoderSize, alpha: float, steps: int, lr: float, batch_size: int,
                     seed: int, log=print, summaries: list[list[int]] | None = None, summary_size: int = 0,
                     summary: float = 0.0, languages: list[int] | None = None, align_first: float = 0.0,
                     tags: list[list[int]] | None = None, given_new: float = 0.0):
    """Train an XLMRobertaForMaskedLM with tied concept embeddings; return it with E materialised.

    ``summaries[i]`` (the active outputs of document i's summary, of ``summary_size``) and ``languages[i]``
    (its language's index) feed the optional first-token losses weighted by ``summary`` and ``align_first``."""
    import torch
    from transformers import XLMRobertaForMaskedLM

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    vocab = len(tokenizer)
    pad_id, mask_id = tokenizer.pad_token_id, tokenizer.mask_token_id
    config = make_config(vocab, size, pad_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
    model = XLMRobertaForMaskedLM(config)
    own = model.roberta.embeddings.word_embeddings.weight  # O (own rows), tied to the decoder
    shared = torch.nn.Parameter(torch.randn(n_concepts, size.hidden) * config.initializer_range)
    cid = torch.full((vocab,), n_concepts, dtype=torch.long)
    scale = torch.ones(vocab)
    for t, c in tied.items():
        cid[t] = c
        scale[t] = alpha
    zero_row = torch.zeros(1, size.hidden)

    def materialise():
        return own * scale[:, None] + torch.cat([shared, zero_row])[cid]

    params = list(model.parameters()) + [shared]
    decoder = None
    if summary:
        decoder = torch.nn.Linear(size.hidden, summary_size)
        prior = sum(map(len, summaries)) / (len(summaries) * summary_size)
        torch.nn.init.constant_(decoder.bias, math.log(prior / (1 - prior)))  # start at the base rate
        params += list(decoder.parameters())
    lang_of = torch.tensor(languages) if align_first else None
    tagger = None
    if given_new:
        tagger = torch.nn.Linear(size.hidden, len(GIVEN_NEW))
        params += list(tagger.parameters())
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98))
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, warm, steps))
    head = model.lm_head
    it = batches(encoded, batch_size, pad_id, tokenizer.eos_token_id, random.Random(seed))
    model.train()
    t0, run_loss = time.time(), None
    for step in range(steps):
        ids, attn, special, docs = next(it)
        inputs, labels = mask_tokens(ids, special, mask_id, vocab, gen)
        E = materialise()
        out = model.roberta(inputs_embeds=E[inputs], attention_mask=attn,
                            position_ids=position_ids(ids, pad_id), output_hidden_states=bool(align_first))
        sel = labels != -100
        h = out.last_hidden_state[sel]
        h = head.layer_norm(torch.nn.functional.gelu(head.dense(h)))
        logits = h @ E.T + head.bias
        loss = mlm = torch.nn.functional.cross_entropy(logits, labels[sel])
        if decoder is not None:
            loss = loss + summary * summary_loss(decoder(out.last_hidden_state[:, 0]),
                                                 [summaries[d] for d in docs])
        if tagger is not None:
            target = torch.full(ids.shape, -100, dtype=torch.long)
            for row, d in enumerate(docs):
                target[row, :len(tags[d])] = torch.tensor(tags[d])
            loss = loss + given_new * torch.nn.functional.cross_entropy(
                tagger(out.last_hidden_state).flatten(0, 1), target.flatten(), ignore_index=-100)
        if align_first:
            loss = loss + align_first * first_token_offset(out.hidden_states[1:], lang_of[docs])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        run_loss = mlm.item() if run_loss is None else 0.98 * run_loss + 0.02 * mlm.item()  # MLM's own
        if (step + 1) % max(1, steps // 10) == 0:
            log(f"  mlm step {step + 1}/{steps} loss {run_loss:.3f} ({time.time() - t0:.0f}s)")
    with torch.no_grad():
        model.roberta.embeddings.word_embeddings.weight.copy_(materialise())
    model.tie_weights()
    model.eval()
    return model, run_loss
