"""Tatoeba: sentence retrieval of translation pairs.

line i of ``tatoeba.xxx-eng.xxx`` and of ``tatoeba.xxx-eng.eng`` are a pair.
  Direction: XTREME's ``similarity_search(x, y)`` indexes the non-English sentences and searches
  them with the English ones (``idx.add(x); idx.search(y, 1)``), so by default each *English*
  sentence retrieves its nearest non-English sentence (``options["direction"] = "en->x"``);
  ``"x->en"`` is the other way. Accuracy = fraction of queries whose neighbour is their own pair
  (ties go to the lower index, as numpy's argmax). Export: the predicted index, one per line.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...tasks import Task
from ..base import EvalConfig, Example
from .common import RetrievalContext, layered_scores, main_prediction, prediction

DIRECTIONS = ("en->x", "x->en")


def predict_tatoeba(ctx: RetrievalContext, model: Any, tokenizer: Any, task: Task, examples: Sequence[Example],
                     cfg: EvalConfig) -> list:
    direction = str(cfg.extra.get("direction", "en->x"))
    if direction not in DIRECTIONS:
        raise ValueError(f"tatoeba direction must be one of {DIRECTIONS}, got {direction!r}")
    x = ctx.embed(model, tokenizer, [ex["text"] for ex in examples], f"encode {task.name}")
    en = ctx.embed(model, tokenizer, [ex["target"] for ex in examples], f"encode {task.name} (en)")
    queries, keys = (en, x) if direction == "en->x" else (x, en)
    # numpy argmax: ties go to the lower index, as in metrics.tatoeba_accuracy
    by_layer = {layer: np.argmax(queries[:, k] @ keys[:, k].T, axis=1).tolist() for k, layer in enumerate(ctx.layers)}
    return [prediction(ctx, by_layer, i) for i in range(len(examples))]


def score_tatoeba(scorer: str, examples: Sequence[Example], preds: list, lang: str) -> dict[str, float]:
    gold = list(range(len(examples)))  # line i of each side is the pair of line i
    return layered_scores(scorer, gold, preds, lang, lambda k: [p["by_layer"][k] for p in preds])


def export_tatoeba(examples: Sequence[Example], preds: list) -> list[str]:
    return [str(main_prediction(p)) for p in preds]
