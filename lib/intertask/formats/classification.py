"""Sentence(-pair) classification and multiple choice: a pooled representation and a linear head."""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..feature_cache import eval_features
from ..features import encode_pairs, length_sorted_batches, pad_sequences
from ..metrics import score
from ..progress import progress
from ..tasks import Task
from .base import EvalConfig, Example, Feature, Format


class Classification(Format):
    name = "classification"

    def featurize(self, task: Task, examples: Sequence[Example], tokenizer: Any, max_length: int,
                  options: dict | None = None) -> list[Feature]:
        first = [ex["text_a"] for ex in examples]
        second = None if examples and examples[0]["text_b"] is None else [ex["text_b"] for ex in examples]
        ids = encode_pairs(tokenizer, first, second, max_length) if examples else []
        return [{"id": ex["id"], "input_ids": x, "label": ex.get("label", -1), "length": len(x)}
                for ex, x in zip(examples, ids)]

    def collate(self, features: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        ids, mask = pad_sequences([f["input_ids"] for f in features], pad_id)
        return {"input_ids": ids, "attention_mask": mask,
                "labels": torch.tensor([f["label"] for f in features], dtype=torch.long)}

    def make_head(self, task: Task, hidden: int, dropout: float = 0.1) -> nn.Module:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, task.num_labels))

    def forward(self, model: Any, task: Task, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model.heads[task.name](model.pooled(batch["input_ids"], batch["attention_mask"]))

    def loss(self, outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(outputs.float(), batch["labels"])

    @torch.inference_mode()
    def logits(self, model: Any, task: Task, features: Sequence[Feature], cfg: EvalConfig, pad_id: int,
               desc: str | None = None) -> list:
        """Outputs in the order of `features`, computed in length-sorted batches."""
        was_training = model.training
        model.eval()
        out: list = [None] * len(features)
        for idx in progress(length_sorted_batches(features, cfg.batch_size), desc=desc or f"predict {task.name}",
                            unit="batch", leave=False):
            batch = {k: v.to(cfg.device) for k, v in self.collate([features[i] for i in idx], pad_id).items()}
            logits = self.forward(model, task, batch).float().cpu()
            for j, i in enumerate(idx):
                out[i] = logits[j]
        model.train(was_training)
        return out

    def predict(self, model: Any, task: Task, examples: Sequence[Example], tokenizer: Any, cfg: EvalConfig) -> list:
        feats = eval_features(cfg, task, examples, tokenizer,
                              lambda: self.featurize(task, examples, tokenizer, cfg.max_length, cfg.extra))
        return [int(x.argmax()) for x in self.logits(model, task, feats, cfg, tokenizer.pad_token_id)]

    def score(self, task: Task, examples: Sequence[Example], predictions: list, lang: str) -> dict[str, float]:
        return score(task.scorer, [ex["label"] for ex in examples], predictions, lang)

    def export_lines(self, task: Task, examples: Sequence[Example], predictions: list) -> list[str]:
        # XTREME's evaluate.py reads one label string per line (XNLI: entailment/neutral/contradiction)
        if task.labels:
            return [task.labels[p] for p in predictions]
        return [str(p) for p in predictions]


def _choice_segments(ex: Example) -> tuple[list[str], list[str]]:
    # Context first, question + answer second; tasks without a context (CommonsenseQA) pair the
    # question with each answer instead, so no sequence starts with an empty segment.
    if ex["context"]:
        return [ex["context"]] * len(ex["choices"]), [f"{ex['question']} {c}".strip() for c in ex["choices"]]
    return [ex["question"]] * len(ex["choices"]), list(ex["choices"])


class MultipleChoice(Classification):
    name = "multiple_choice"

    def featurize(self, task: Task, examples: Sequence[Example], tokenizer: Any, max_length: int,
                  options: dict | None = None) -> list[Feature]:
        first: list[str] = []
        second: list[str] = []
        for ex in examples:
            if task.num_choices and len(ex["choices"]) != task.num_choices:
                raise ValueError(f"{task.name} example {ex['id']}: {len(ex['choices'])} choices, "
                                 f"expected {task.num_choices}")
            a, b = _choice_segments(ex)
            first += a
            second += b
        ids = encode_pairs(tokenizer, first, second, max_length) if examples else []
        out, k = [], 0
        for ex in examples:
            n = len(ex["choices"])
            choice_ids = ids[k:k + n]
            k += n
            out.append({"id": ex["id"], "input_ids": choice_ids, "label": ex.get("label", -1),
                        "length": max(len(c) for c in choice_ids) * n})
        return out

    def collate(self, features: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        n_choices = len(features[0]["input_ids"])
        ids, mask = pad_sequences([c for f in features for c in f["input_ids"]], pad_id)
        return {"input_ids": ids.view(len(features), n_choices, -1),
                "attention_mask": mask.view(len(features), n_choices, -1),
                "labels": torch.tensor([f["label"] for f in features], dtype=torch.long)}

    def make_head(self, task: Task, hidden: int, dropout: float = 0.1) -> nn.Module:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, model: Any, task: Task, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        b, c, length = batch["input_ids"].shape
        pooled = model.pooled(batch["input_ids"].view(b * c, length), batch["attention_mask"].view(b * c, length))
        return model.heads[task.name](pooled).view(b, c)

    def export_lines(self, task: Task, examples: Sequence[Example], predictions: list) -> list[str]:
        return [str(p) for p in predictions]

