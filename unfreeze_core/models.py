"""Base models and tokenizers: the embedded world, a tiny model built from a config, or the hub.

``name`` is ``world`` (the shipped offline encoder), ``tiny`` (random weights, byte-level
tokenizer: smoke runs and tests), a local folder, or a hub id such as ``xlm-roberta-base``.
"""

from __future__ import annotations

from pathlib import Path

from .errors import UnfreezeError

TINY = dict(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=520, type_vocab_size=1)


def byte_tokenizer():
    """A byte-level fast tokenizer with RoBERTa-style specials: works for any script, needs no training."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(specials + sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=False,
                                                      add_prefix_space=False)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", cls_token="<s>",
                                   sep_token="</s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")


def tiny_model():
    from adapters import XLMRobertaAdapterModel
    from transformers import XLMRobertaConfig

    tokenizer = byte_tokenizer()
    config = XLMRobertaConfig(vocab_size=len(tokenizer), pad_token_id=1, bos_token_id=0, eos_token_id=2, **TINY)
    return XLMRobertaAdapterModel(config), tokenizer


def resolve(name: str) -> str:
    """The folder or hub id that ``name`` stands for."""
    if name == "world":
        from . import world

        return str(world.model_path())
    return name


def load_model(name: str):
    """``(model, tokenizer)`` with the ``adapters`` flex-head model class for ``name``."""
    if name == "tiny":
        return tiny_model()
    from adapters import AutoAdapterModel
    from transformers import AutoTokenizer

    source = resolve(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoAdapterModel.from_pretrained(source)
    except OSError as exc:
        hint = "" if Path(source).exists() else " (not a local folder; the hub is unreachable offline)"
        raise UnfreezeError(f"cannot load model {name!r}{hint}: {str(exc).splitlines()[0]}") from None
    return model, tokenizer


def num_layers(model) -> int:
    return model.config.num_hidden_layers
