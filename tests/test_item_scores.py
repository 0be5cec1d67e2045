"""Per-item scores of the evaluation stage: they average back to the official metric, item by item."""

from __future__ import annotations

import numpy as np
import pytest

from intertask.formats import get_format
from intertask.item_scores import item_rows
from intertask.registry import get_task


def test_classification_items_average_to_accuracy():
    task = get_task("xnli")
    family = get_format(task.format)
    examples = [{"id": f"x{i}", "label": lab} for i, lab in enumerate([0, 1, 2, 1, 0])]
    preds = [0, 1, 1, 1, 2]
    rows = item_rows(family, task, examples, preds, "de")
    assert [r["score"] for r in rows] == [1.0, 1.0, 0.0, 1.0, 0.0]
    assert {r["metric"] for r in rows} == {"accuracy"} and rows[0]["item"] == "x0" and rows[0]["language"] == "de"
    assert np.mean([r["score"] for r in rows]) == pytest.approx(family.score(task, examples, preds, "de")["accuracy"])


def test_span_qa_items_average_to_squad_f1_and_em():
    task = get_task("tydiqa")
    family = get_format(task.format)
    examples = [{"id": "q1", "answers": [{"text": "the red house", "answer_start": 0}]},
                {"id": "q2", "answers": [{"text": "Paris", "answer_start": 0}]},
                {"id": "q3", "answers": [{"text": "1984", "answer_start": 0}]}]
    preds = ["red house", "Paris", "in 1985"]
    rows = item_rows(family, task, examples, preds, "en")
    f1 = [r["score"] for r in rows if r["metric"] == "f1"]
    em = [r["score"] for r in rows if r["metric"] == "exact_match"]
    assert em == [1.0, 1.0, 0.0]            # SQuAD normalization drops the article "the"
    assert f1[2] == 0.0 and f1[0] == 1.0
    official = family.score(task, examples, preds, "en")
    assert np.mean(f1) == pytest.approx(official["f1"]) and np.mean(em) == pytest.approx(official["exact_match"])


def test_corpus_level_metrics_get_no_item_scores():
    task = get_task("panx")
    assert item_rows(get_format(task.format), task, [{"id": "s1"}], [["O"]], "de") == []
