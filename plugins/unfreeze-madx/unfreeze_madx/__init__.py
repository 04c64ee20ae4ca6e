"""MAD-X: a bottleneck task adapter (one unit per layer) stacked on a frozen language adapter.

Language adapters (``seq_bn_inv``) come from, in order: ``lang_adapters=DIR`` (``DIR/<lang>/``
as written by ``save_adapter`` or ``unfreeze lang-adapter train``), the embedded world's own
adapters when the model is ``world``, or AdapterHub's ``<lang>/wiki@ukp`` (online only).
``lang_adapters=fresh`` adds untrained ones: for smoke tests only.

A packaged real checkpoint (``minilm``) ships no language adapters: with ``lang_adapters=auto`` a run
whose languages are only its training language stacks no language adapter (the task adapter alone),
and a run with any other language is refused in one line (train adapters with ``unfreeze lang-adapter
train`` and pass ``lang_adapters=DIR``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from unfreeze_core.api import AdapterBackend
from unfreeze_core.errors import UnfreezeError, first_line
from unfreeze_core.hookspecs import hookimpl
from unfreeze_core.units import TaskAdapterBackend

__version__ = "0.1.0"


def language_adapter_source(lang: str, setting: str, model_name: str) -> str:
    """Where the language adapter for ``lang`` is loaded from (a folder or an AdapterHub id)."""
    if setting not in ("auto", "fresh"):
        folder = Path(setting) / lang
        if not folder.is_dir():
            raise UnfreezeError(f"no language adapter for {lang!r}: {folder} does not exist")
        return str(folder)
    if model_name == "world":
        from unfreeze_core import world

        return str(world.lang_adapter_path(lang))
    return f"{lang}/wiki@ukp"


class MadX(TaskAdapterBackend, AdapterBackend):
    @dataclass
    class Options:
        reduction_factor: int = 16
        lang_adapters: str = "auto"
        """auto | fresh | a folder holding one saved language adapter per language code."""

        def __post_init__(self):
            if self.reduction_factor <= 0:
                raise ValueError("reduction_factor must be positive")

    def setup(self, model, *, train_language, languages, model_name):
        from adapters import SeqBnConfig, SeqBnInvConfig

        self.language_adapters = not self._without_language_adapters(train_language, languages, model_name)
        for lang in dict.fromkeys([train_language, *languages]) if self.language_adapters else ():
            if self.options.lang_adapters == "fresh":
                model.add_adapter(lang, config=SeqBnInvConfig(reduction_factor=2))
                continue
            source = language_adapter_source(lang, self.options.lang_adapters, model_name)
            try:
                model.load_adapter(source, load_as=lang, with_head=False, use_safetensors=True)
            except Exception as exc:
                raise UnfreezeError(f"cannot load the language adapter for {lang!r} from {source}: {first_line(exc)}"
                                    ) from None
        model.add_adapter(self.adapter_name, config=SeqBnConfig(reduction_factor=self.options.reduction_factor))
        model.train_adapter(self.adapter_name)  # freezes the base model and the language adapters
        self.activate_language(model, train_language)

    def _without_language_adapters(self, train_language, languages, model_name) -> bool:
        """True for a packaged checkpoint's run on its training language only; refuses other languages."""
        from unfreeze_core.packaged import PACKAGED

        if self.options.lang_adapters != "auto" or model_name not in PACKAGED:
            return False
        others = [lang for lang in dict.fromkeys(languages) if lang != train_language]
        if others:
            raise UnfreezeError(f"no language adapter for {others[0]!r}: --model {model_name} ships none; train one "
                                f"with `unfreeze lang-adapter train --model {model_name}` and pass "
                                f"-o lang_adapters=DIR, or evaluate on --languages {train_language} only")
        return True

    def activate_language(self, model, lang):
        from adapters.composition import Stack

        if not getattr(self, "language_adapters", True):
            model.active_adapters = self.adapter_name  # no language adapter: the task adapter alone
            return
        model.active_adapters = Stack(lang, self.adapter_name)  # after train_adapter, which resets it


@hookimpl
def register_adapter_backends(register):
    register("madx", MadX)
