"""The tidy results table: one row per run, target task, language and metric (`results.csv`)."""

from __future__ import annotations

RESULT_COLUMNS = ["study", "run", "model", "intermediate_tasks", "seed", "target_task", "language", "split",
                  "metric", "value", "n_examples"]
# written since the content guard; tables without them still load (report.load_results_frame fills them):
# overlap = evaluated items not scored because their content was trained on or used for model selection;
# target_in_pool = the intermediate tasks include the target's own data (allow_target_in_pool: true)
GUARD_COLUMNS = ["overlap", "target_in_pool"]
OUTPUT_COLUMNS = RESULT_COLUMNS + GUARD_COLUMNS


def result_rows(identity: dict, target_task: str, language: str, split: str, scores: dict[str, float],
                n_examples: int, overlap: int = 0, target_in_pool: bool = False) -> list[dict]:
    """Rows of the tidy results table; `identity` holds study, run, model, intermediate_tasks, seed."""
    return [{**{k: identity.get(k) for k in ("study", "run", "model", "intermediate_tasks", "seed")},
             "target_task": target_task, "language": language, "split": split, "metric": metric,
             "value": float(value), "n_examples": int(n_examples), "overlap": int(overlap),
             "target_in_pool": bool(target_in_pool)} for metric, value in scores.items()]
