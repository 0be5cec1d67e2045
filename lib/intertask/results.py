"""The tidy results table: one row per run, target task, language and metric (`results.csv`)."""

from __future__ import annotations

RESULT_COLUMNS = ["study", "run", "model", "intermediate_tasks", "seed", "target_task", "language", "split",
                  "metric", "value", "n_examples"]


def result_rows(identity: dict, target_task: str, language: str, split: str, scores: dict[str, float],
                n_examples: int) -> list[dict]:
    """Rows of the tidy results table; `identity` holds study, run, model, intermediate_tasks, seed."""
    return [{**{k: identity.get(k) for k in ("study", "run", "model", "intermediate_tasks", "seed")},
             "target_task": target_task, "language": language, "split": split, "metric": metric,
             "value": float(value), "n_examples": int(n_examples)} for metric, value in scores.items()]
