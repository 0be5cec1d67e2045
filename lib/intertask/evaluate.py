"""Prediction per format family and the tidy results table (one row per language and metric)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from .features import Feature, collate, length_sorted_batches
from .progress import progress

RESULT_COLUMNS = ["study", "run", "model", "intermediate_tasks", "seed", "target_task", "language", "split",
                  "metric", "value", "n_examples"]


@torch.no_grad()
def predict_logits(model: Any, task: str, features: Sequence[Feature], batch_size: int, pad_id: int,
                   device: Any = "cpu", desc: str | None = None) -> np.ndarray:
    """Logits in the order of `features`, computed in length-sorted batches."""
    was_training = model.training
    model.eval()
    out: list[np.ndarray | None] = [None] * len(features)
    batches = length_sorted_batches(features, batch_size)
    for idx in progress(batches, desc=desc or f"predict {task}", unit="batch", leave=False):
        batch = collate([features[i] for i in idx], pad_id)
        logits = model(task, batch["input_ids"].to(device), batch["attention_mask"].to(device)).float().cpu().numpy()
        for j, i in enumerate(idx):
            out[i] = logits[j]
    model.train(was_training)
    return np.stack(out) if out else np.zeros((0, 0))


def predict(model: Any, task: str, features: Sequence[Feature], batch_size: int, pad_id: int,
            device: Any = "cpu", desc: str | None = None) -> np.ndarray:
    """Predicted label (classification) or choice (multiple choice) indices."""
    logits = predict_logits(model, task, features, batch_size, pad_id, device, desc)
    return logits.argmax(-1) if len(logits) else np.zeros(0, dtype=int)


def result_rows(identity: dict, target_task: str, language: str, split: str, scores: dict[str, float],
                n_examples: int) -> list[dict]:
    """Rows of the tidy results table; `identity` holds study, run, model, intermediate_tasks, seed."""
    return [{**{k: identity.get(k) for k in ("study", "run", "model", "intermediate_tasks", "seed")},
             "target_task": target_task, "language": language, "split": split, "metric": metric,
             "value": float(value), "n_examples": int(n_examples)} for metric, value in scores.items()]
