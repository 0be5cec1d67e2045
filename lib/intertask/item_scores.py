"""Per-item scores of an evaluation, so reports can put item-level intervals on every gain (no torch).

Only formats whose official metric is a plain mean over items get item scores: accuracy for
classification and multiple choice, SQuAD/MLQA F1 and exact match for span QA (both are means of
per-question scores). Corpus-level metrics (seqeval span F1, retrieval mAP, BUCC's threshold F1)
are not sums over items, so they get none rather than a score that would not add up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ITEM_MEAN_FORMATS = frozenset({"classification", "multiple_choice", "span_qa"})
ITEM_COLUMNS = ["language", "item", "metric", "score"]


def item_rows(fmt: Any, task: Any, examples: Sequence[dict], predictions: Sequence, lang: str) -> list[dict]:
    """One row per (item, metric): the format's own scorer (`fmt.score`) applied to that item alone."""
    if task.format not in ITEM_MEAN_FORMATS:
        return []
    rows = []
    for ex, pred in zip(examples, predictions):
        for metric, value in fmt.score(task, [ex], [pred], lang).items():
            rows.append({"language": lang, "item": str(ex["id"]), "metric": metric, "score": float(value)})
    return rows
