"""Multiple choice in the COPA schema: premise, question (cause/effect), choice1, choice2 -> label 0/1.

Template (one sequence pair per choice, as the XCOPA baselines do): the first segment is the premise
followed by the question word exactly as the data gives it (``cause`` or ``effect``, English in every
XCOPA language), the second segment is the choice:

    <s> {premise} {question} </s></s> {choice_i} </s>        (XLM-R; [CLS] .. [SEP] .. [SEP] for BERT)

Input is [batch, 2, tokens]; the multiple-choice head scores each pair and returns logits [batch, 2].
"""

from __future__ import annotations

from . import data as sources
from . import hub
from .base import CategoricalTask, sequence_length
from .cache import tokenise

QUESTIONS = ("cause", "effect")


def first_segment(premise: str, question: str) -> str:
    return f"{premise} {question}"


class MultipleChoice(CategoricalTask):
    kind = "multiple_choice"
    columns = ("premise", "choice1", "choice2", "question", "label")
    num_choices = 2

    def add_head(self, model):
        model.add_multiple_choice_head(self.head_name, num_choices=self.num_choices)

    def value_checks(self):
        return {**super().value_checks(), "question": sources.choice(QUESTIONS)}

    def encode(self, dataset, tokenizer, purpose="eval"):
        choices, max_length = self.num_choices, sequence_length(self.options.max_length, tokenizer)

        def features(batch):
            firsts = [first_segment(p, q) for p, q in zip(batch["premise"], batch["question"])]
            per_choice = [tokenizer(firsts, list(batch[f"choice{i + 1}"]), truncation=True, max_length=max_length)
                          for i in range(choices)]
            return {"input_ids": [[enc["input_ids"][n] for enc in per_choice] for n in range(len(firsts))],
                    "attention_mask": [[enc["attention_mask"][n] for enc in per_choice] for n in range(len(firsts))],
                    "labels": [int(y) for y in batch["label"]]}

        return tokenise(dataset, features, tokenizer=tokenizer, task=self, purpose=purpose)

    def train_dataset(self, tokenizer):
        return self.encode(self.load_train(), tokenizer, purpose="train")

    def collate(self, tokenizer):
        pad = tokenizer.pad_token_id

        def collate(features):
            import torch

            width = max(len(ids) for f in features for ids in f["input_ids"])
            ids = torch.full((len(features), self.num_choices, width), pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for n, f in enumerate(features):
                for c, (row, m) in enumerate(zip(f["input_ids"], f["attention_mask"])):
                    ids[n, c, :len(row)] = torch.tensor(row)
                    mask[n, c, :len(m)] = torch.tensor(m)
            return {"input_ids": ids, "attention_mask": mask,
                    "labels": torch.tensor([f["labels"] for f in features], dtype=torch.long)}

        return collate


class COPA(MultipleChoice):
    """COPA in the XCOPA schema; by default the embedded world's, or any local folder (--data-dir)."""

    def default_folder(self):
        from .. import world

        return world.data_dir("copa")


class XCOPA(MultipleChoice):
    """COPA (English) -> XCOPA from the hub (aps/super_glue copa, cambridgeltl/xcopa), or a local folder."""

    hub_languages = hub.LANGUAGES["xcopa"]

    def hub_split(self, lang, split):
        return hub.xcopa(lang, split)
