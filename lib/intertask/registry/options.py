"""Per-format option defaults shared by task entries (a study's `task_options` override them).

Entries copy them (`dict(QA_OPTIONS)`), so no task can change another's.
"""

from __future__ import annotations

# XTREME's run_squad.py settings
QA_OPTIONS: dict[str, object] = {"max_length": 384, "doc_stride": 128, "max_query_length": 64,
                                 "max_answer_length": 30, "n_best": 20}
TAGGING_OPTIONS: dict[str, object] = {"max_length": 128}
RETRIEVAL_OPTIONS: dict[str, object] = {"max_length": 128, "layer": -1, "all_layers": False}
